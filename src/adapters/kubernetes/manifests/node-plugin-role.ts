import { SERVICE_ACCOUNT } from './cluster-objects.js';
import type { ManifestFile } from './manifest-file.js';
import { commonLabels, type ManifestOptions } from './options.js';

/** One rule of a ClusterRole. */
export interface RoleRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** What an optional component grants the node plugin's ServiceAccount, cluster-wide. */
export interface NodePluginRole {
  /** The component's directory below manifests/. */
  dir: string;
  /** Suffix of the role's name; cluster-wide objects are named after the install's namespace. */
  name: string;
  rules: RoleRule[];
  /** The header comment of clusterrole.yaml: what the rules allow, and what not. */
  roleHeader: string[];
  /** What the binding gives, as "the … ClusterRole". */
  roleTitle: string;
}

/** clusterrole.yaml and clusterrolebinding.yaml of an optional component. */
export function nodePluginRoleFiles(role: NodePluginRole, options: ManifestOptions): ManifestFile[] {
  const name = `${options.namespace}-${role.name}`;
  const metadata = { name, labels: commonLabels('node-plugin') };
  return [
    {
      path: `${role.dir}/clusterrole.yaml`,
      header: role.roleHeader,
      object: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata, rules: role.rules },
    },
    {
      path: `${role.dir}/clusterrolebinding.yaml`,
      header: [`Gives the node plugin's ServiceAccount ${role.roleTitle}.`],
      object: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata,
        subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: options.namespace }],
        roleRef: { kind: 'ClusterRole', name, apiGroup: 'rbac.authorization.k8s.io' },
      },
    },
  ];
}
