import type { ManifestFile } from './manifest-file.js';
import { nodePluginRoleFiles, type NodePluginRole } from './node-plugin-role.js';
import type { ManifestOptions } from './options.js';

/*
 * The optional right to read pods (manifests/pod-store-paths/): a kustomize Component for
 * volumes with `podStorePaths: "true"`, whose closure is the store paths their pod's
 * containers name. It adds the role only; the API token comes with the events/ component,
 * which goes with it.
 */

export const POD_STORE_PATHS_DIR = 'pod-store-paths';

export const POD_STORE_PATHS_INSTALL_FILES = [`${POD_STORE_PATHS_DIR}/clusterrole.yaml`, `${POD_STORE_PATHS_DIR}/clusterrolebinding.yaml`] as const;

const at = (path: string) => `${POD_STORE_PATHS_DIR}/${path}`;

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

const ROLE: NodePluginRole = {
  dir: POD_STORE_PATHS_DIR,
  name: 'node-pod-reader',
  rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }],
  roleHeader: ['What the node plugin may do with pods: get one, to read the store paths its containers name.', 'Not list, not watch: it reads only the pod a volume is published for.'],
  roleTitle: 'the pod reader ClusterRole',
};

/** The files of manifests/pod-store-paths/. */
export function podStorePathsFiles(options: ManifestOptions): ManifestFile[] {
  return [kustomization(), ...nodePluginRoleFiles(ROLE, options)];
}
