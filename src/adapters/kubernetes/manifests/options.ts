import { DEFAULT_KUBELET_DIR } from '../kubelet-paths.js';
import { imageReference } from './image.js';

/** What `nixmount k8s manifests` lets a user change; everything else follows from these. */
export interface ManifestOptions {
  driverName: string;
  namespace: string;
  image: string;
  /** kubelet's root directory on the nodes (k0s, microk8s and others move it). */
  kubeletDir: string;
  /** nixmount's state directory; must be inside the /nix mount (see daemonset.ts). */
  stateDir: string;
  registrarImage: string;
  livenessProbeImage: string;
  /** The external-provisioner sidecar of the optional controller. */
  provisionerImage: string;
}

export const DEFAULT_NAMESPACE = 'nixmount';
export const DEFAULT_K8S_STATE_DIR = '/nix/var/nixmount';
export const REGISTRAR_IMAGE = 'registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.12.0';
export const LIVENESS_PROBE_IMAGE = 'registry.k8s.io/sig-storage/livenessprobe:v2.14.0';
export const PROVISIONER_IMAGE = 'registry.k8s.io/sig-storage/csi-provisioner:v5.1.0';

export function defaultImage(version: string): string {
  return imageReference(version);
}

export function defaultManifestOptions(driverName: string, version: string): ManifestOptions {
  return {
    driverName,
    namespace: DEFAULT_NAMESPACE,
    image: defaultImage(version),
    kubeletDir: DEFAULT_KUBELET_DIR,
    stateDir: DEFAULT_K8S_STATE_DIR,
    registrarImage: REGISTRAR_IMAGE,
    livenessProbeImage: LIVENESS_PROBE_IMAGE,
    provisionerImage: PROVISIONER_IMAGE,
  };
}

/** Labels shared by every object, so `kubectl get all -l app.kubernetes.io/name=nixmount` finds them. */
export function commonLabels(component: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'nixmount', 'app.kubernetes.io/component': component };
}
