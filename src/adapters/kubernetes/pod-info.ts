import { InvalidArgumentError } from '../../core/errors.js';
import { quote } from '../../core/quote.js';

/** The prefix of every key kubelet adds to a volume context (never written by users). */
export const KUBELET_KEY_PREFIX = 'csi.storage.k8s.io/';

/** Keys kubelet adds when the CSIDriver has `podInfoOnMount: true`. */
export const POD_INFO_KEYS = {
  podName: 'csi.storage.k8s.io/pod.name',
  podNamespace: 'csi.storage.k8s.io/pod.namespace',
  podUid: 'csi.storage.k8s.io/pod.uid',
  serviceAccount: 'csi.storage.k8s.io/serviceAccount.name',
  ephemeral: 'csi.storage.k8s.io/ephemeral',
} as const;

/**
 * The external-provisioner writes this key (its own identity) into the volumeAttributes of
 * every PV it creates, next to the volume context CreateVolume returned; kubelet then sends
 * it to NodePublishVolume. It says nothing about the volume.
 */
export const PROVISIONER_IDENTITY_KEY = 'storage.kubernetes.io/csiProvisionerIdentity';

export interface PodInfo {
  /** True for an inline volume in a pod spec; false for a PersistentVolume or when kubelet sent no pod info. */
  ephemeral: boolean;
  /** Log fields naming the pod (only the identifying keys: kubelet may also send service account tokens). */
  workload: Record<string, string>;
}

export interface SplitContext {
  /** What the user wrote in `volumeAttributes`. */
  user: Record<string, string>;
  pod: PodInfo;
}

/**
 * Separates kubelet's keys from the user's. Keys under csi.storage.k8s.io/ that we
 * do not know are tolerated, since kubelet adds more over time (serviceAccount.tokens
 * came with tokenRequests), and so is the provisioner's identity on PVs; everything
 * else goes to the user-key parser, which
 * rejects unknown keys by name.
 */
export function splitVolumeContext(context: Readonly<Record<string, string>>): SplitContext {
  const user: Record<string, string> = {};
  for (const [key, value] of Object.entries(context)) {
    if (!key.startsWith(KUBELET_KEY_PREFIX) && key !== PROVISIONER_IDENTITY_KEY) user[key] = value;
  }
  return { user, pod: { ephemeral: readEphemeral(context[POD_INFO_KEYS.ephemeral]), workload: podWorkload(context) } };
}

/** The pod's identifying keys (never throws: read even when the rest of the context is refused). */
export function podWorkload(context: Readonly<Record<string, string>>): Record<string, string> {
  const workload: Record<string, string> = {};
  const name = context[POD_INFO_KEYS.podName];
  const namespace = context[POD_INFO_KEYS.podNamespace];
  if (name) workload.pod = namespace ? `${namespace}/${name}` : name;
  if (context[POD_INFO_KEYS.podUid]) workload.podUid = context[POD_INFO_KEYS.podUid];
  if (context[POD_INFO_KEYS.serviceAccount]) workload.serviceAccount = context[POD_INFO_KEYS.serviceAccount];
  return workload;
}

function readEphemeral(value: string | undefined): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw new InvalidArgumentError(`${POD_INFO_KEYS.ephemeral}: ${quote(value)} must be "true" or "false"`);
}
