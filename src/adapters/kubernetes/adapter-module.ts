import { defineAdapter, SDK_VERSION } from '../../sdk/adapter-module.js';
import { DEFAULT_KUBELET_DIR } from './kubelet-paths.js';
import { KubernetesAdapter } from './kubernetes-adapter.js';
import { kubeletReplay } from './kubelet-replay.js';

/** `serve --orchestrator kubernetes`, declared like any adapter module. */
export const kubernetesModule = defineAdapter({
  sdkVersion: SDK_VERSION,
  name: 'kubernetes',
  summary: 'Kubernetes: kubelet publishes inline ephemeral volumes and PersistentVolumes below its root directory',
  options: [
    { name: 'kubelet-dir', default: DEFAULT_KUBELET_DIR, arg: 'DIR', help: 'kubelet\'s root directory (its --root-dir); targets must lie below it', propagated: true },
  ],
  create: (context) => new KubernetesAdapter({ nodeName: context.nodeId, kubeletDir: context.options['kubelet-dir']!, protectedDirs: context.protectedDirs }),
  replay: kubeletReplay,
});

/** As `serve --adapter-module` and the test kit load a module: its default export. */
export default kubernetesModule;
