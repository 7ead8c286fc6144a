import type { OrchestratorReplay, ReplayStep } from '../../sdk/replay.js';
import { kubeletTargetPath } from './kubelet-paths.js';
import { KUBELET_KEY_PREFIX, POD_INFO_KEYS } from './pod-info.js';

/**
 * kubelet with an inline ephemeral volume in two pods (docs/kubernetes.md):
 * node-driver-registrar's GetPluginInfo and kubelet's NodeGetInfo at registration; per
 * pod NodeGetCapabilities, the volume directory, NodePublishVolume with podInfoOnMount's
 * keys, and at pod deletion NodeUnpublishVolume and removal of the pod's directories.
 */
export const kubeletReplay: OrchestratorReplay = {
  // kubelet's own namespace, reserved to it, which grows with Kubernetes releases (see splitVolumeContext).
  openKeyPrefixes: [KUBELET_KEY_PREFIX],
  options: (root) => ({ 'kubelet-dir': `${root}/var/lib/kubelet` }),
  steps(root, volume) {
    const kubeletDir = `${root}/var/lib/kubelet`;
    const pods = ['0d6c7a8e-0000-4000-8000-00000000000a', '0d6c7a8e-0000-4000-8000-00000000000b'];
    const steps: ReplayStep[] = [
      { kind: 'mkdir', path: `${kubeletDir}/pods` },
      { kind: 'call', method: 'GetPluginInfo' },
      { kind: 'call', method: 'NodeGetInfo' },
    ];
    for (const [index, uid] of pods.entries()) {
      const targetPath = kubeletTargetPath(kubeletDir, uid, 'nix');
      steps.push(
        { kind: 'call', method: 'NodeGetCapabilities' },
        { kind: 'mkdir', path: targetPath.slice(0, -'/mount'.length) },
        {
          kind: 'publish',
          // kubelet's handle for an inline volume is per pod ("csi-" + a hash of pod and volume).
          volumeId: `${volume.volumeId}-${index}`,
          targetPath,
          accessMode: 'SINGLE_NODE_MULTI_WRITER',
          readonly: true,
          volumeContext: {
            ...volume.userContext,
            [POD_INFO_KEYS.podName]: `app-${index}`,
            [POD_INFO_KEYS.podNamespace]: 'default',
            [POD_INFO_KEYS.podUid]: uid,
            [POD_INFO_KEYS.serviceAccount]: 'default',
            [POD_INFO_KEYS.ephemeral]: 'true',
          },
        },
      );
    }
    for (const [index, uid] of pods.entries()) {
      const targetPath = kubeletTargetPath(kubeletDir, uid, 'nix');
      const podDir = `${kubeletDir}/pods/${uid}`;
      steps.push(
        { kind: 'unpublish', volumeId: `${volume.volumeId}-${index}`, targetPath },
        { kind: 'rmdir', path: targetPath },
        { kind: 'rmdir', path: targetPath.slice(0, -'/mount'.length) },
        { kind: 'rmdir', path: `${podDir}/volumes/kubernetes.io~csi` },
        { kind: 'rmdir', path: `${podDir}/volumes` },
        { kind: 'rmdir', path: podDir },
      );
    }
    return steps;
  },
};
