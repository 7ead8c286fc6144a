import type { OrchestratorReplay, ReplayStep } from '../../sdk/replay.js';
import { usageSegment } from './nomad-paths.js';

/**
 * A Nomad client with a CSI volume claimed read-only by two allocations (docs/nomad.md):
 * fingerprinting, then NodeStageVolume once for the namespace/volume/usage and
 * NodePublishVolume per allocation under `<base>/per-alloc/<allocID>/<volumeID>/<usage>`;
 * as the allocations stop, unpublish each and unstage after the last.
 */
export const nomadReplay: OrchestratorReplay = {
  options: (root) => ({ 'stage-publish-base-dir': `${root}/csi` }),
  steps(root, volume) {
    const base = `${root}/csi`;
    const usage = usageSegment(true, 'file-system', 'multi-node-reader-only');
    const stagingPath = `${base}/staging/default/${volume.volumeId}/${usage}`;
    const allocs = ['5f1b2c3d-0000-4000-8000-00000000000a', '5f1b2c3d-0000-4000-8000-00000000000b'];
    const steps: ReplayStep[] = [
      { kind: 'call', method: 'Probe' },
      { kind: 'call', method: 'GetPluginInfo' },
      { kind: 'call', method: 'GetPluginCapabilities' },
      { kind: 'call', method: 'NodeGetInfo' },
      { kind: 'call', method: 'Probe' },
      { kind: 'call', method: 'NodeGetCapabilities' },
      { kind: 'mkdir', path: stagingPath },
      { kind: 'stage', volumeId: volume.volumeId, stagingPath, accessMode: 'MULTI_NODE_READER_ONLY', volumeContext: volume.userContext },
    ];
    for (const alloc of allocs) {
      const targetPath = `${base}/per-alloc/${alloc}/${volume.volumeId}/${usage}`;
      steps.push(
        { kind: 'mkdir', path: targetPath },
        {
          kind: 'publish', volumeId: volume.volumeId, targetPath, stagingPath,
          accessMode: 'MULTI_NODE_READER_ONLY', readonly: true, volumeContext: volume.userContext,
        },
      );
    }
    for (const alloc of allocs) {
      const targetPath = `${base}/per-alloc/${alloc}/${volume.volumeId}/${usage}`;
      steps.push(
        { kind: 'unpublish', volumeId: volume.volumeId, targetPath },
        { kind: 'rmdir', path: targetPath },
        { kind: 'rmdir', path: `${base}/per-alloc/${alloc}/${volume.volumeId}` },
        { kind: 'rmdir', path: `${base}/per-alloc/${alloc}` },
      );
    }
    steps.push(
      { kind: 'unstage', volumeId: volume.volumeId, stagingPath },
      { kind: 'rmdir', path: stagingPath },
      { kind: 'rmdir', path: `${base}/staging/default/${volume.volumeId}` },
    );
    return steps;
  },
};
