import { isAbsolute, join, normalize } from 'node:path';
import { InvalidArgumentError } from '../../core/errors.js';

/**
 * What the Nomad client (≥ 1.10) hands a dynamic host volume plugin: the operation as
 * the first argument (and in DHV_OPERATION), everything else in DHV_* environment
 * variables; DHV_PARAMETERS is the volume spec's `parameters` block as a JSON object
 * of strings ("null" when the block is absent). The environment holds nothing else:
 * no PATH, no HOME.
 */
export const HOST_VOLUME_OPERATIONS = ['fingerprint', 'create', 'delete'] as const;
export type HostVolumeOperation = (typeof HOST_VOLUME_OPERATIONS)[number];

/**
 * What `fingerprint` prints: the version Nomad shows as the node's
 * `plugins.host_volume.<plugin_id>.version` attribute. The wrapper prints the same line
 * from the version it was installed with, without starting Node.
 */
export function fingerprintAnswer(version: string): string {
  return `${JSON.stringify({ version })}\n`;
}

/** The one parameter that is not a volume-context key: "false" asks for a writable overlay. */
export const READ_ONLY_PARAMETER = 'readOnly';

export interface HostVolumeRequest {
  operation: 'create' | 'delete';
  volumeId: string;
  /** `$DHV_VOLUMES_DIR/$DHV_VOLUME_ID`: the path create mounts at and delete derives again. */
  path: string;
  /** DHV_CREATED_PATH (delete only); see `hostVolumeRequest` for why it is not trusted. */
  createdPath?: string;
  readonly: boolean;
  /** The parameters minus `readOnly`: the same keys as a CSI volume context (empty for delete). */
  context: Record<string, string>;
  /** The DHV_* variables read here, as given: what the plugin hands a running serve, which reads them again. */
  env: Record<string, string>;
}

export function parseOperation(argv: readonly string[], env: NodeJS.ProcessEnv): HostVolumeOperation {
  const [first, ...rest] = argv;
  const operation = first ?? env.DHV_OPERATION;
  if (!operation || !(HOST_VOLUME_OPERATIONS as readonly string[]).includes(operation)) {
    throw new InvalidArgumentError(`unknown operation "${operation ?? ''}": a host volume plugin answers ${HOST_VOLUME_OPERATIONS.join(', ')}`);
  }
  if (rest.length > 0) throw new InvalidArgumentError(`unexpected arguments after "${operation}": ${rest.join(' ')}`);
  if (env.DHV_OPERATION && env.DHV_OPERATION !== operation) {
    throw new InvalidArgumentError(`the argument says "${operation}" but DHV_OPERATION says "${env.DHV_OPERATION}"`);
  }
  return operation as HostVolumeOperation;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new InvalidArgumentError(`${name} is not set; is this run by a Nomad client (≥ 1.10)?`);
  return value;
}

function quoted(text: string): string {
  return text.length <= 256 ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, 256))}… (${text.length} characters)`;
}

/** A volume id becomes one path component: Nomad's ids are UUIDs, anything path-like is refused. */
function checkVolumeId(id: string): void {
  if (id === '.' || id === '..' || id.includes('/') || id.includes('\0') || Buffer.byteLength(id) > 255) {
    throw new InvalidArgumentError(`DHV_VOLUME_ID ${quoted(id)} cannot name a directory (no "/", ".", ".." or NUL, at most 255 bytes)`);
  }
}

export function parseParameters(text: string | undefined): Record<string, string> {
  if (text === undefined || text === '' || text === 'null') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError(`DHV_PARAMETERS is not JSON: ${quoted(text)}`);
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError(`DHV_PARAMETERS is not a JSON object: ${quoted(text)}`);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') throw new InvalidArgumentError(`parameter "${key}" must be a string`);
    out[key] = value;
  }
  return out;
}

function readOnlyFrom(parameters: Record<string, string>): boolean {
  const value = parameters[READ_ONLY_PARAMETER];
  if (value === undefined || value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidArgumentError(`parameter ${READ_ONLY_PARAMETER} ${quoted(value)} must be "true" (the default) or "false" (a writable overlay)`);
}

/** What `hostVolumeRequest` reads, and so what a serve asked to do the operation is given. */
const DELEGATED_VARIABLES = ['DHV_VOLUMES_DIR', 'DHV_VOLUME_ID', 'DHV_PARAMETERS', 'DHV_CREATED_PATH'] as const;

/**
 * The create or delete request in the environment. The path is always derived from
 * DHV_VOLUMES_DIR and DHV_VOLUME_ID, for delete too: when Nomad cannot save a volume
 * it has just created, it calls delete with DHV_CREATED_PATH set to the volumes
 * directory itself, so that variable never decides what is unmounted.
 */
export function hostVolumeRequest(operation: 'create' | 'delete', env: NodeJS.ProcessEnv): HostVolumeRequest {
  const volumesDir = required(env, 'DHV_VOLUMES_DIR');
  if (!isAbsolute(volumesDir)) throw new InvalidArgumentError(`DHV_VOLUMES_DIR ${quoted(volumesDir)} is not an absolute path`);
  const volumeId = required(env, 'DHV_VOLUME_ID');
  checkVolumeId(volumeId);
  // Delete needs nothing from the parameters, and must succeed even for a volume
  // whose create failed on them (Nomad may delete after a failed create).
  const parameters = operation === 'create' ? parseParameters(env.DHV_PARAMETERS) : {};
  const readonly = readOnlyFrom(parameters);
  const { [READ_ONLY_PARAMETER]: _, ...context } = parameters;
  return {
    operation,
    volumeId,
    path: join(normalize(volumesDir), volumeId),
    ...(env.DHV_CREATED_PATH ? { createdPath: env.DHV_CREATED_PATH } : {}),
    readonly,
    context,
    env: Object.fromEntries(DELEGATED_VARIABLES.flatMap((name) => (env[name] === undefined ? [] : [[name, env[name]]]))),
  };
}
