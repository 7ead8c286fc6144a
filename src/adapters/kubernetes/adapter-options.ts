import { text } from '../../settings/option.js';
import { DEFAULT_KUBELET_DIR } from './kubelet-paths.js';

/** What `serve --orchestrator kubernetes` needs beyond the node id. */
export const KUBERNETES_OPTIONS = {
  kubeletDir: text({
    flag: 'kubelet-dir', default: DEFAULT_KUBELET_DIR, arg: 'DIR',
    help: 'kubelet\'s root directory (its --root-dir); targets must lie below it', commands: ['serve', 'doctor'], section: 'kubernetes',
  }),
} as const;
