import type { PluginProcess } from 'nixmount/sdk/testkit';
import { swarmAccessMode, type SwarmScope, type SwarmSharing } from '../src/access-mode.js';

/** What `docker volume create --driver nixmount …` puts in the volume object. */
export interface SwarmVolumeSpec {
  /** The volume's name (`docker volume create NAME`). */
  name: string;
  /** The Swarm object id, which names the node's staging and publish paths. */
  swarmId: string;
  /** `--opt k=v`, the CreateVolume parameters. */
  opts: Record<string, string>;
  scope: SwarmScope;
  sharing: SwarmSharing;
}

interface CreatedVolume {
  spec: SwarmVolumeSpec;
  /** The CSI volume id and context CreateVolume answered; the node calls carry them. */
  volumeId: string;
  volumeContext: Record<string, string>;
}

/**
 * Replays what Docker Swarm does with a CSI plugin installed as a managed plugin with
 * both interfaces (`docker.csicontroller/1.0`, `docker.csinode/1.0`), as moby/swarmkit's
 * manager and node agent do: the manager probes, reads the plugin and controller
 * capabilities and calls CreateVolume (name, parameters from `--opt`, one capability
 * from `--scope`/`--sharing`); the node agent probes, reads the node capabilities and
 * info, stages at `<staged>/<swarm id>` when STAGE_UNSTAGE_VOLUME is advertised and
 * publishes at `<published>/<swarm id>` with the volume context CreateVolume returned
 * (never `readonly`); removal is unpublish, unstage, then DeleteVolume.
 */
export class SwarmSim {
  readonly calls: string[] = [];
  private nodeStages = false;
  private controllerPublishes = false;

  constructor(
    private readonly plugin: PluginProcess,
    private readonly publishedDir: string,
    private readonly stagedDir: string,
  ) {}

  private async call<T = any>(service: 'identity' | 'node' | 'controller', method: string, request: unknown = {}): Promise<T> {
    this.calls.push(method);
    return this.plugin.call<T>(service, method, request);
  }

  private capability(spec: SwarmVolumeSpec) {
    const mode = swarmAccessMode(spec.scope, spec.sharing);
    // swarmkit leaves the mode unset (UNKNOWN) for scope multi with sharing none.
    return { mount: {}, access_mode: { mode: mode ?? 'UNKNOWN' } };
  }

  /** The manager connects to the controller side, then `docker volume create`. */
  async createVolume(spec: SwarmVolumeSpec): Promise<CreatedVolume> {
    await this.call('identity', 'Probe');
    const plugin = await this.call<{ capabilities: Array<{ service?: { type: string } }> }>('identity', 'GetPluginCapabilities');
    if (plugin.capabilities.some((c) => c.service?.type === 'CONTROLLER_SERVICE')) {
      const controller = await this.call<{ capabilities: Array<{ rpc?: { type: string } }> }>('controller', 'ControllerGetCapabilities');
      this.controllerPublishes = controller.capabilities.some((c) => c.rpc?.type === 'PUBLISH_UNPUBLISH_VOLUME');
    } else {
      // Without a controller Swarm uses the name as the volume id and sends no context.
      return { spec, volumeId: spec.name, volumeContext: {} };
    }
    const created = await this.call<{ volume: { volume_id: string; volume_context: Record<string, string> } }>('controller', 'CreateVolume', {
      name: spec.name,
      parameters: spec.opts,
      volume_capabilities: [this.capability(spec)],
      secrets: {},
    });
    return { spec, volumeId: created.volume.volume_id, volumeContext: created.volume.volume_context };
  }

  /** The node agent starts with the plugin, then reports the node's CSI info to the manager. */
  async startNode(): Promise<{ node_id: string }> {
    await this.call('identity', 'Probe');
    const node = await this.call<{ capabilities: Array<{ rpc?: { type: string } }> }>('node', 'NodeGetCapabilities');
    this.nodeStages = node.capabilities.some((c) => c.rpc?.type === 'STAGE_UNSTAGE_VOLUME');
    return this.call('node', 'NodeGetInfo');
  }

  stagingPath(volume: CreatedVolume): string {
    return `${this.stagedDir}/${volume.spec.swarmId}`;
  }

  publishedPath(volume: CreatedVolume): string {
    return `${this.publishedDir}/${volume.spec.swarmId}`;
  }

  /** A task using the volume is scheduled on this node: (controller publish,) stage, publish. */
  async useVolume(volume: CreatedVolume): Promise<string> {
    if (this.controllerPublishes) await this.call('controller', 'ControllerPublishVolume', { volume_id: volume.volumeId, node_id: 'kit-node', volume_capability: this.capability(volume.spec), volume_context: volume.volumeContext });
    const staging = this.nodeStages ? this.stagingPath(volume) : '';
    if (this.nodeStages) {
      await this.call('node', 'NodeStageVolume', {
        volume_id: volume.volumeId, staging_target_path: staging, volume_capability: this.capability(volume.spec),
        volume_context: volume.volumeContext, publish_context: {}, secrets: {},
      });
    }
    await this.call('node', 'NodePublishVolume', {
      volume_id: volume.volumeId, target_path: this.publishedPath(volume), staging_target_path: staging,
      volume_capability: this.capability(volume.spec), volume_context: volume.volumeContext, publish_context: {}, secrets: {},
    });
    return this.publishedPath(volume);
  }

  /** The task is gone and the volume released on this node: unpublish, unstage. */
  async releaseVolume(volume: CreatedVolume): Promise<void> {
    await this.call('node', 'NodeUnpublishVolume', { volume_id: volume.volumeId, target_path: this.publishedPath(volume) });
    if (this.nodeStages) await this.call('node', 'NodeUnstageVolume', { volume_id: volume.volumeId, staging_target_path: this.stagingPath(volume) });
    if (this.controllerPublishes) await this.call('controller', 'ControllerUnpublishVolume', { volume_id: volume.volumeId, node_id: 'kit-node' });
  }

  /** `docker volume rm` (after `docker volume update --availability drain`). */
  async removeVolume(volume: CreatedVolume): Promise<void> {
    await this.call('controller', 'DeleteVolume', { volume_id: volume.volumeId, secrets: {} });
  }
}
