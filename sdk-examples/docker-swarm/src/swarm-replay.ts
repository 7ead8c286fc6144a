import type { OrchestratorReplay } from 'nixmount/sdk';
import { swarmAccessMode } from './access-mode.js';

/** A Swarm volume object id (25 lower-case letters and digits). */
export const REPLAY_SWARM_ID = 'kit0swarm0volume000000001';

/**
 * Swarm's node agent with one cluster volume created `--scope multi --sharing readonly`
 * and used by a task: at plugin start Probe and NodeGetCapabilities, then NodeGetInfo for
 * the manager; NodeStageVolume at `<staged>/<id>`, NodePublishVolume at
 * `<published>/<id>` (the plugin creates both; Swarm never sets `readonly`); when the
 * task is gone NodeUnpublishVolume, then NodeUnstageVolume. The volume context is the
 * controller's CreateVolume answer, for nixmount the `--opt`s, i.e. the user's keys.
 */
export const swarmReplay: OrchestratorReplay = {
  options: (root) => ({ 'published-dir': `${root}/data/published`, 'staged-dir': `${root}/data/staged` }),
  steps(root, volume) {
    const accessMode = swarmAccessMode('multi', 'readonly')!;
    const stagingPath = `${root}/data/staged/${REPLAY_SWARM_ID}`;
    const targetPath = `${root}/data/published/${REPLAY_SWARM_ID}`;
    return [
      { kind: 'call', method: 'Probe' },
      { kind: 'call', method: 'NodeGetCapabilities' },
      { kind: 'call', method: 'NodeGetInfo' },
      // Both directories are in the plugin's rootfs (plugin/rootfs.md); the plugin makes the volume's own.
      { kind: 'mkdir', path: `${root}/data/published` },
      { kind: 'mkdir', path: `${root}/data/staged` },
      { kind: 'stage', volumeId: volume.volumeId, stagingPath, accessMode, volumeContext: volume.userContext },
      { kind: 'publish', volumeId: volume.volumeId, targetPath, stagingPath, accessMode, readonly: false, volumeContext: volume.userContext },
      { kind: 'unpublish', volumeId: volume.volumeId, targetPath },
      { kind: 'unstage', volumeId: volume.volumeId, stagingPath },
    ];
  },
};
