import { flag, text } from '../../settings/option.js';
import { DEFAULT_KUBELET_DIR } from './kubelet-paths.js';

/** What `serve --orchestrator kubernetes` needs beyond the node id. */
export const KUBERNETES_OPTIONS = {
  kubeletDir: text({
    flag: 'kubelet-dir', default: DEFAULT_KUBELET_DIR, arg: 'DIR',
    help: 'kubelet\'s root directory (its --root-dir); targets must lie below it', commands: ['serve'], section: 'kubernetes',
  }),
  kubernetesEvents: flag({
    flag: 'kubernetes-events',
    help: 'post Events on the pods whose volumes this node publishes (needs the RBAC of manifests/events; see docs/operations.md)',
    commands: ['serve'], section: 'kubernetes',
  }),
} as const;
