import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { usageSegment } from '../../src/adapters/nomad/nomad-paths.js';
import type { NomadVolumeSpec } from '../../src/adapters/nomad/tooling/volume-spec-file.js';
import type { CsiClient } from './csi-client.js';

/** The claim a jobspec's group `volume` block makes. */
export interface NomadClaim {
  readOnly: boolean;
  accessMode: string;
  attachmentMode: string;
}

export interface RunningAllocation {
  allocId: string;
  volumeId: string;
  stagingPath?: string;
  targetPath: string;
}

const ACCESS_MODES: Record<string, string> = {
  'single-node-reader-only': 'SINGLE_NODE_READER_ONLY',
  'single-node-writer': 'SINGLE_NODE_WRITER',
  'multi-node-reader-only': 'MULTI_NODE_READER_ONLY',
  'multi-node-single-writer': 'MULTI_NODE_SINGLE_WRITER',
  'multi-node-multi-writer': 'MULTI_NODE_MULTI_WRITER',
};

/** A volume spec's `capability` blocks as CSI capabilities, with its mount_options (Nomad's VolumeCapabilities). */
function csiCapabilities(volume: NomadVolumeSpec): unknown[] {
  return volume.capabilities.map((c) => {
    const mode = c.accessMode === undefined ? undefined : ACCESS_MODES[c.accessMode];
    if (!mode) throw new Error(`${volume.file}: capability with unknown access_mode ${c.accessMode}`);
    return c.attachmentMode === 'block-device'
      ? { block: {}, access_mode: { mode } }
      : { mount: { fs_type: volume.mountOptions.fsType ?? '', mount_flags: volume.mountOptions.mountFlags }, access_mode: { mode } };
  });
}

/**
 * The CreateVolumeRequest `nomad volume create` makes the controller plugin send:
 * the spec's name, parameters, secrets and capabilities, and a capacity range from
 * capacity_min/capacity_max (both 0 when the spec has none). Topology requests are
 * not replayed.
 */
export function createVolumeRequest(volume: NomadVolumeSpec): Record<string, unknown> {
  if (!volume.name) throw new Error(`${volume.file}: no name`);
  return {
    name: volume.name,
    capacity_range: { required_bytes: '0', limit_bytes: '0' },
    volume_capabilities: csiCapabilities(volume),
    parameters: volume.parameters,
    secrets: volume.secrets,
  };
}

/** The volume Nomad registers after CreateVolume: external_id = the created volume id, context = its volume_context. */
export function createdVolume(volume: NomadVolumeSpec, created: { volume_id: string; volume_context: Record<string, string> }): NomadVolumeSpec {
  return { ...volume, externalId: created.volume_id, context: { ...created.volume_context } };
}

// Nomad retries node RPCs a few times on these codes before failing the claim.
const RETRIED = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.ABORTED]);
const MAX_TRIES = 3;

/**
 * Replays what a Nomad client does with a CSI node plugin (docs/nomad.md):
 * fingerprinting (Probe until healthy, GetPluginInfo, GetPluginCapabilities,
 * NodeGetInfo), heartbeats (Probe + NodeGetCapabilities), NodeStageVolume once per
 * namespace/volume/usage when advertised, NodePublishVolume per allocation under
 * `<base>/per-alloc/<allocID>/<volumeID>/<usage>`, and unpublish/unstage as
 * allocations stop. Every call is logged in `calls` for order assertions.
 */
export class NomadClientSim {
  readonly calls: string[] = [];
  nodeInfo?: { node_id: string; max_volumes_per_node: string; accessible_topology: { segments: Record<string, string> } | null };
  pluginCapabilities: string[] = [];
  nodeCapabilities: string[] = [];
  private readonly allocations = new Map<string, RunningAllocation & { stageKey?: string }>();
  private readonly stages = new Map<string, { volumeId: string; stagingPath: string }>();

  constructor(
    private readonly client: CsiClient,
    /** The plugin's stage_publish_base_dir (as the plugin sees it). */
    readonly baseDir: string,
    private readonly namespace = 'default',
  ) {}

  /** Fingerprinting: Probe until ready (bounded), then the plugin's and the node's identity. */
  async fingerprint(maxProbes = 50): Promise<void> {
    let ready = false;
    for (let i = 0; i < maxProbes && !ready; i++) {
      const probe = await this.call<{ ready: { value: boolean } | null }>('identity', 'Probe', {});
      ready = probe.ready?.value ?? true; // an unset ready means ready (CSI spec)
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (!ready) throw new Error(`plugin not healthy after ${maxProbes} probes`);
    await this.call('identity', 'GetPluginInfo', {});
    const capabilities = await this.call<{ capabilities: Array<{ service?: { type: string } }> }>('identity', 'GetPluginCapabilities', {});
    this.pluginCapabilities = capabilities.capabilities.flatMap((c) => (c.service ? [c.service.type] : []));
    this.nodeInfo = await this.call('node', 'NodeGetInfo', {});
    await this.heartbeat();
  }

  /** What Nomad repeats every 30 s. */
  async heartbeat(): Promise<void> {
    await this.call('identity', 'Probe', {});
    const result = await this.call<{ capabilities: Array<{ rpc?: { type: string } }> }>('node', 'NodeGetCapabilities', {});
    this.nodeCapabilities = result.capabilities.flatMap((c) => (c.rpc ? [c.rpc.type] : []));
  }

  get stagesVolumes(): boolean {
    return this.nodeCapabilities.includes('STAGE_UNSTAGE_VOLUME');
  }

  stagingPath(volume: NomadVolumeSpec, claim: NomadClaim): string {
    return join(this.baseDir, 'staging', this.namespace, volume.id!, usageSegment(claim.readOnly, claim.attachmentMode, claim.accessMode));
  }

  targetPath(allocId: string, volume: NomadVolumeSpec, claim: NomadClaim): string {
    return join(this.baseDir, 'per-alloc', allocId, volume.id!, usageSegment(claim.readOnly, claim.attachmentMode, claim.accessMode));
  }

  /** An allocation claiming `volume` starts on this node: stage (first claim of its usage), then publish. */
  async startAllocation(allocId: string, volume: NomadVolumeSpec, claim: NomadClaim): Promise<RunningAllocation> {
    // The CSI volume_id is the volume's external_id when it has one, else its Nomad id; paths use the Nomad id.
    const volumeId = volume.externalId ?? volume.id!;
    const capability =
      claim.attachmentMode === 'block-device'
        ? { block: {}, access_mode: { mode: ACCESS_MODES[claim.accessMode] } }
        : {
            mount: { fs_type: volume.mountOptions.fsType ?? '', mount_flags: volume.mountOptions.mountFlags },
            access_mode: { mode: ACCESS_MODES[claim.accessMode] },
          };
    let stagingPath: string | undefined;
    let stageKey: string | undefined;
    if (this.stagesVolumes) {
      stagingPath = this.stagingPath(volume, claim);
      stageKey = stagingPath;
      if (!this.stages.has(stageKey)) {
        await mkdir(stagingPath, { recursive: true });
        await this.call('node', 'NodeStageVolume', {
          volume_id: volumeId,
          publish_context: {},
          staging_target_path: stagingPath,
          volume_capability: capability,
          secrets: volume.secrets,
          volume_context: volume.context,
        });
        this.stages.set(stageKey, { volumeId, stagingPath });
      }
    }
    const targetPath = this.targetPath(allocId, volume, claim);
    await mkdir(targetPath, { recursive: true });
    await this.call('node', 'NodePublishVolume', {
      volume_id: volumeId,
      publish_context: {},
      staging_target_path: stagingPath ?? '',
      target_path: targetPath,
      volume_capability: capability,
      readonly: claim.readOnly,
      secrets: volume.secrets,
      volume_context: volume.context,
    });
    const running = { allocId, volumeId, targetPath, ...(stagingPath ? { stagingPath } : {}), ...(stageKey ? { stageKey } : {}) };
    this.allocations.set(allocId, running);
    return running;
  }

  /** The allocation stops: unpublish; unstage once no allocation on this node uses that staging path. */
  async stopAllocation(allocId: string): Promise<{ unstaged: boolean }> {
    const alloc = this.allocations.get(allocId);
    if (!alloc) throw new Error(`allocation ${allocId} is not running`);
    await this.call('node', 'NodeUnpublishVolume', { volume_id: alloc.volumeId, target_path: alloc.targetPath });
    // The Nomad client created the per-alloc directory (ensureAllocDir) and removes it after
    // unpublishing (os.Remove: fails on a mount point or a non-empty directory).
    await rmdir(alloc.targetPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    this.allocations.delete(allocId);
    if (!alloc.stageKey) return { unstaged: false };
    if ([...this.allocations.values()].some((other) => other.stageKey === alloc.stageKey)) return { unstaged: false };
    const stage = this.stages.get(alloc.stageKey)!;
    await this.call('node', 'NodeUnstageVolume', { volume_id: stage.volumeId, staging_target_path: stage.stagingPath });
    this.stages.delete(alloc.stageKey);
    return { unstaged: true };
  }

  private async call<Res = unknown>(service: 'identity' | 'node', method: string, request: unknown): Promise<Res> {
    for (let attempt = 1; ; attempt++) {
      this.calls.push(method);
      try {
        return await this.client.call<Res>(service, method, request);
      } catch (error) {
        const code = (error as ServiceError).code;
        if (attempt >= MAX_TRIES || !RETRIED.has(code)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
      }
    }
  }
}
