import type { NodeIdentity, OrchestratorAdapter, ParsedVolumeContext } from '../../core/orchestrator-adapter.js';
import { parseUserContext } from '../../core/volume-context.js';
import { ProtectedDirs } from '../common/paths.js';
import { KubeletPaths } from './kubelet-paths.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { PodsApi, type PodReader } from './api/pods-api.js';
import { POD_INFO_KEYS, podWorkload, splitVolumeContext } from './pod-info.js';
import { POD_STORE_PATHS_KEY, takePodStorePaths, withPodStorePaths } from './pod-store-paths.js';

/** The topology key every Kubernetes node carries; its value here is the node name. */
export const HOSTNAME_TOPOLOGY_KEY = 'kubernetes.io/hostname';

export interface KubernetesAdapterOptions {
  /** The Kubernetes node name (the DaemonSet passes it from the downward API as --node-id). */
  nodeName: string;
  /** kubelet's root directory (--root-dir of kubelet), /var/lib/kubelet unless the distribution moved it. */
  kubeletDir: string;
  /** Directories no path may be in or hide (the state dir, /nix, the store's root); see AdapterOptions. */
  protectedDirs?: readonly string[];
  /** Where `podStorePaths` volumes read their pod (the in-cluster API server unless given). */
  pods?: PodReader;
}

/**
 * Kubernetes: inline ephemeral volumes in pods (and PVs, whose paths look the same).
 * kubelet's csi.storage.k8s.io/* keys are read here and never reach the core.
 */
export class KubernetesAdapter implements OrchestratorAdapter {
  readonly name = 'kubernetes';
  // kubelet never stages inline ephemeral volumes, and advertising staging would make
  // every publish without a staging path a FAILED_PRECONDITION.
  readonly supportsStaging = false;
  private readonly paths: KubeletPaths;
  private readonly pods: PodReader;

  constructor(private readonly options: KubernetesAdapterOptions) {
    if (options.nodeName.trim() === '') {
      throw new Error('kubernetes: the node name is empty; pass --node-id $(NODE_NAME) from the downward API');
    }
    if (/\$\(\w+\)/.test(options.nodeName)) {
      // Kubernetes leaves $(VAR) as it is when the container has no such variable.
      throw new Error(`kubernetes: the node name "${options.nodeName}" was not expanded; give the container NODE_NAME from fieldRef spec.nodeName`);
    }
    this.paths = new KubeletPaths(options.kubeletDir, new ProtectedDirs(options.protectedDirs ?? []));
    this.pods = options.pods ?? new PodsApi();
  }

  parseVolumeContext(context: Readonly<Record<string, string>>): ParsedVolumeContext {
    const { user, pod } = splitVolumeContext(context);
    const { rest, fromPod } = takePodStorePaths(user);
    const spec = parseUserContext(rest, { closureElsewhere: fromPod });
    const parsed = { spec, ephemeral: pod.ephemeral, workload: pod.workload };
    if (!fromPod) return parsed;
    const name = context[POD_INFO_KEYS.podName];
    const namespace = context[POD_INFO_KEYS.podNamespace];
    if (!name || !namespace) {
      throw new InvalidArgumentError(
        `${POD_STORE_PATHS_KEY}: kubelet sent no ${POD_INFO_KEYS.podName} and ${POD_INFO_KEYS.podNamespace}; the CSIDriver needs podInfoOnMount: true (as the manifests set it)`,
      );
    }
    return { ...parsed, completeSpec: async () => withPodStorePaths(spec, await this.pods.storePathsOf(namespace, name), `${namespace}/${name}`) };
  }

  workloadOf(context: Readonly<Record<string, string>>): Record<string, string> {
    return podWorkload(context);
  }

  nodeIdentity(): NodeIdentity {
    return { nodeId: this.options.nodeName, maxVolumesPerNode: 0, topology: { [HOSTNAME_TOPOLOGY_KEY]: this.options.nodeName } };
  }

  checkTargetPath(path: string): string {
    return this.paths.checkTarget(path);
  }

  checkStagingPath(path: string): string {
    return this.paths.checkStaging(path);
  }
}
