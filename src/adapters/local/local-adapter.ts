import type { NodeIdentity, OrchestratorAdapter, ParsedVolumeContext } from '../../core/orchestrator-adapter.js';
import { parseUserContext } from '../../core/volume-context.js';
import { assertAbsolutePath } from '../common/paths.js';

/** No orchestrator: people and scripts publishing by hand (`nixmount publish`). Any absolute target. */
export class LocalAdapter implements OrchestratorAdapter {
  readonly name = 'local';
  readonly supportsStaging = false;

  constructor(private readonly nodeId: string) {}

  parseVolumeContext(context: Readonly<Record<string, string>>): ParsedVolumeContext {
    return { spec: parseUserContext(context), ephemeral: false, workload: {} };
  }

  nodeIdentity(): NodeIdentity {
    return { nodeId: this.nodeId, maxVolumesPerNode: 0, topology: {} };
  }

  checkTargetPath(path: string): void {
    assertAbsolutePath(path, 'target_path');
  }

  checkStagingPath(path: string): void {
    assertAbsolutePath(path, 'staging_target_path');
  }
}
