import type { NodeIdentity, OrchestratorAdapter, ParsedVolumeContext } from '../../core/orchestrator-adapter.js';
import { parseUserContext } from '../../core/volume-context.js';
import { ProtectedDirs } from '../common/paths.js';
import { checkNomadPath, DEFAULT_STAGE_PUBLISH_BASE_DIR } from './nomad-paths.js';

/**
 * The topology segment every node reports. Its key is a plain HCL identifier on
 * purpose: a volume spec's `topology_request { required { topology { segments { … } } } }`
 * writes segment keys as attribute names, where dots and slashes are not allowed.
 */
export const NODE_TOPOLOGY_KEY = 'nixmount_node';

/**
 * Nomad: the volume spec's `context` block arrives verbatim (only user keys), the
 * node id is Nomad's node id, and every path lives under the plugin's
 * `stage_publish_base_dir`. Nomad stages each namespace/volume/usage once per node
 * and publishes per allocation, so this adapter stages: the closure is realised and
 * its view built once, then each allocation is one mount.
 */
export class NomadAdapter implements OrchestratorAdapter {
  readonly name = 'nomad';
  readonly supportsStaging = true;
  private readonly protectedDirs: ProtectedDirs;

  constructor(
    private readonly nodeId: string,
    readonly stagePublishBaseDir: string = DEFAULT_STAGE_PUBLISH_BASE_DIR,
    /** Directories no path may be in or hide (the state dir, /nix, the store's root); see AdapterOptions. */
    protectedDirs: readonly string[] = [],
  ) {
    // Nomad refuses a node plugin whose NodeGetInfo has an empty node_id.
    if (nodeId.trim() === '') throw new Error('--node-id: Nomad needs a non-empty node id (e.g. ${node.unique.id})');
    if (!stagePublishBaseDir.startsWith('/')) {
      throw new Error(`--stage-publish-base-dir: "${stagePublishBaseDir}" must be an absolute path`);
    }
    this.protectedDirs = new ProtectedDirs(protectedDirs);
  }

  parseVolumeContext(context: Readonly<Record<string, string>>): ParsedVolumeContext {
    return { spec: parseUserContext(context), ephemeral: false, workload: {} };
  }

  nodeIdentity(): NodeIdentity {
    return { nodeId: this.nodeId, maxVolumesPerNode: 0, topology: { [NODE_TOPOLOGY_KEY]: this.nodeId } };
  }

  checkTargetPath(path: string): string {
    return checkNomadPath(path, this.stagePublishBaseDir, 'per-alloc', 'target_path', this.protectedDirs);
  }

  checkStagingPath(path: string): string {
    return checkNomadPath(path, this.stagePublishBaseDir, 'staging', 'staging_target_path', this.protectedDirs);
  }
}
