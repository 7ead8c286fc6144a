import { SERVICE_ACCOUNT } from './cluster-objects.js';
import type { ManifestFile } from './manifest-file.js';
import { commonLabels, type ManifestOptions } from './options.js';

/*
 * The optional right to read pods (manifests/pod-store-paths/): a kustomize Component for
 * volumes with `podStorePaths: "true"`, whose closure is the store paths their pod's
 * containers name. It adds the role only; the API token comes with the events/ component,
 * which goes with it.
 */

export const POD_STORE_PATHS_DIR = 'pod-store-paths';

export const POD_STORE_PATHS_INSTALL_FILES = [`${POD_STORE_PATHS_DIR}/clusterrole.yaml`, `${POD_STORE_PATHS_DIR}/clusterrolebinding.yaml`] as const;

const labels = () => commonLabels('node-plugin');
const at = (path: string) => `${POD_STORE_PATHS_DIR}/${path}`;

/** Cluster-wide (pods of every namespace), so named after the install's namespace. */
function clusterRoleName(options: ManifestOptions): string {
  return `${options.namespace}-node-pod-reader`;
}

function kustomization(): ManifestFile {
  return {
    path: at('kustomization.yaml'),
    header: [
      'Store paths from the pod spec (docs/kubernetes.md, "Store paths from the pod spec"). A kustomize',
      'Component: list it under `components:` together with ../events, which gives the node plugin its token.',
    ],
    object: { apiVersion: 'kustomize.config.k8s.io/v1alpha1', kind: 'Component', resources: ['clusterrole.yaml', 'clusterrolebinding.yaml'] },
  };
}

function clusterRole(options: ManifestOptions): ManifestFile {
  return {
    path: at('clusterrole.yaml'),
    header: ['What the node plugin may do with pods: get one, to read the store paths its containers name.', 'Not list, not watch: it reads only the pod a volume is published for.'],
    object: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: clusterRoleName(options), labels: labels() },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }],
    },
  };
}

function clusterRoleBinding(options: ManifestOptions): ManifestFile {
  return {
    path: at('clusterrolebinding.yaml'),
    header: ['Gives the node plugin\'s ServiceAccount the pod reader ClusterRole.'],
    object: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: clusterRoleName(options), labels: labels() },
      subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: options.namespace }],
      roleRef: { kind: 'ClusterRole', name: clusterRoleName(options), apiGroup: 'rbac.authorization.k8s.io' },
    },
  };
}

/** The files of manifests/pod-store-paths/. */
export function podStorePathsFiles(options: ManifestOptions): ManifestFile[] {
  return [kustomization(), clusterRole(options), clusterRoleBinding(options)];
}
