import { execa } from 'execa';
import { NOMAD_FINGERPRINT_LIMIT_MS, NOMAD_KILL_MS } from '../../../src/adapters/nomad-host/host-volume-deadlines.js';

/**
 * Replays how a Nomad client (≥ 1.10, client/hostvolumemanager) runs an external
 * host volume plugin: `<plugin_dir>/<plugin_id> <operation>`, an environment holding
 * only the DHV_* variables (no PATH, no HOME), the agent's working directory (`/`
 * under systemd), SIGKILL at the deadline (1 s for fingerprint, from
 * client/fingerprint/dynamic_host_volumes.go; 60 s for create and delete, from
 * client/host_volume_endpoint.go), JSON read from stdout, and on a non-zero exit the
 * `error` of that JSON (when there is one) appended to Nomad's own message.
 */
export interface HostVolumeCall {
  exitCode: number | undefined;
  killed: boolean;
  stdout: string;
  stderr: string;
  /** What Nomad decoded from stdout (undefined when it was not JSON). */
  json?: Record<string, unknown>;
  /** The error Nomad would return to `nomad volume create/delete`, or undefined on success. */
  nomadError?: string;
}

export interface CreateRequest {
  id: string;
  name: string;
  namespace?: string;
  parameters?: Record<string, string> | null;
  capacityMinBytes?: number;
  capacityMaxBytes?: number;
}

export const FINGERPRINT_TIMEOUT_MS = NOMAD_FINGERPRINT_LIMIT_MS;
export const OPERATION_TIMEOUT_MS = NOMAD_KILL_MS;
export const AGENT_CWD = '/';

/** Go's json.Marshal of a map[string]string: keys sorted, <, > and & escaped. */
export function goJson(parameters: Record<string, string> | null | undefined): string {
  if (parameters === null || parameters === undefined) return 'null';
  const sorted = Object.fromEntries(Object.keys(parameters).sort().map((key) => [key, parameters[key]]));
  return JSON.stringify(sorted).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

export class NomadHostClient {
  constructor(
    readonly executable: string,
    readonly pluginDir: string,
    readonly volumesDir: string,
    readonly nodeId = 'nomad-node-1',
    readonly nodePool = 'default',
  ) {}

  private get pluginId(): string {
    return this.executable.slice(this.executable.lastIndexOf('/') + 1);
  }

  private async run(operation: string, env: Record<string, string>, timeout: number): Promise<HostVolumeCall> {
    const result = await execa(this.executable, [operation], { env, extendEnv: false, cwd: AGENT_CWD, timeout, killSignal: 'SIGKILL', reject: false, stripFinalNewline: false });
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(result.stdout) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    const call: HostVolumeCall = { exitCode: result.exitCode, killed: result.isTerminated, stdout: result.stdout, stderr: result.stderr, json };
    if (result.failed) {
      const cause = result.isTerminated ? 'signal: killed' : `exit status ${result.exitCode}`;
      const pluginError = typeof json?.error === 'string' ? `: ${json.error}` : '';
      call.nomadError = `error ${operation === 'create' ? 'creating' : 'deleting'} volume with plugin "${this.pluginId}": ${cause}${pluginError}`;
    } else if (operation !== 'delete' && json === undefined) {
      call.nomadError = `plugin output is not JSON: ${result.stdout}`;
    }
    return call;
  }

  fingerprint(): Promise<HostVolumeCall> {
    return this.run('fingerprint', { DHV_OPERATION: 'fingerprint' }, FINGERPRINT_TIMEOUT_MS);
  }

  create(request: CreateRequest): Promise<HostVolumeCall> {
    return this.run(
      'create',
      {
        DHV_OPERATION: 'create',
        DHV_VOLUMES_DIR: this.volumesDir,
        DHV_PLUGIN_DIR: this.pluginDir,
        DHV_NODE_POOL: this.nodePool,
        DHV_NAMESPACE: request.namespace ?? 'default',
        DHV_VOLUME_NAME: request.name,
        DHV_VOLUME_ID: request.id,
        DHV_CAPACITY_MIN_BYTES: String(request.capacityMinBytes ?? 0),
        DHV_CAPACITY_MAX_BYTES: String(request.capacityMaxBytes ?? 0),
        DHV_NODE_ID: this.nodeId,
        DHV_PARAMETERS: goJson(request.parameters),
      },
      OPERATION_TIMEOUT_MS,
    );
  }

  /**
   * `createdPath` is what Nomad stored from create; when Nomad could not save a new
   * volume in its client state it passes the volumes directory itself instead.
   */
  delete(request: CreateRequest, createdPath: string): Promise<HostVolumeCall> {
    return this.run(
      'delete',
      {
        DHV_OPERATION: 'delete',
        DHV_VOLUMES_DIR: this.volumesDir,
        DHV_PLUGIN_DIR: this.pluginDir,
        DHV_NODE_POOL: this.nodePool,
        DHV_CREATED_PATH: createdPath,
        DHV_NAMESPACE: request.namespace ?? 'default',
        DHV_VOLUME_NAME: request.name,
        DHV_VOLUME_ID: request.id,
        DHV_NODE_ID: this.nodeId,
        DHV_PARAMETERS: goJson(request.parameters),
      },
      OPERATION_TIMEOUT_MS,
    );
  }
}
