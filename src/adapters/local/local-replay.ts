import type { OrchestratorReplay } from '../../sdk/replay.js';

/** A person publishing into a directory of their choice (the plugin creates it) and unpublishing it. */
export const localReplay: OrchestratorReplay = {
  options: () => ({}),
  steps(root, volume) {
    const targetPath = `${root}/srv/${volume.volumeId}`;
    return [
      { kind: 'call', method: 'NodeGetInfo' },
      { kind: 'mkdir', path: `${root}/srv` },
      { kind: 'publish', volumeId: volume.volumeId, targetPath, accessMode: 'SINGLE_NODE_WRITER', readonly: true, volumeContext: volume.userContext },
      { kind: 'unpublish', volumeId: volume.volumeId, targetPath },
      { kind: 'rmdir', path: targetPath },
      { kind: 'rmdir', path: `${root}/srv` },
    ];
  },
};
