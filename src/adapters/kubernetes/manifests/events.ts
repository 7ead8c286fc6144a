import { SERVICE_ACCOUNT_DIR } from '../api/in-cluster.js';
import { noted, type ManifestFile } from './manifest-file.js';
import { nodePluginRoleFiles, type NodePluginRole } from './node-plugin-role.js';
import type { ManifestOptions } from './options.js';

/*
 * The optional Kubernetes Events (manifests/events/): a kustomize Component that gives
 * the node plugin the right to post Events on pods and turns `--kubernetes-events` on.
 * Without it the node plugin has no API token and no role at all (serviceaccount.yaml).
 */

export const EVENTS_DIR = 'events';
/** The DaemonSet of daemonset.yaml, which the component patches. */
const NODE_DAEMONSET = 'nixmount-node';

/** The component's objects, by path below manifests/ (its patch is applied to daemonset.yaml). */
export const EVENTS_INSTALL_FILES = [`${EVENTS_DIR}/clusterrole.yaml`, `${EVENTS_DIR}/clusterrolebinding.yaml`] as const;

const at = (path: string) => `${EVENTS_DIR}/${path}`;

function kustomization(): ManifestFile {
  return {
    path: at('kustomization.yaml'),
    header: [
      'Kubernetes Events on pods (docs/operations.md, "Kubernetes Events"). A kustomize Component:',
      'list it under `components:` of a kustomization that has manifests/ as a resource.',
    ],
    object: {
      apiVersion: 'kustomize.config.k8s.io/v1alpha1',
      kind: 'Component',
      resources: ['clusterrole.yaml', 'clusterrolebinding.yaml'],
      patches: [{ path: 'daemonset-patch.yaml', target: { group: 'apps', version: 'v1', kind: 'DaemonSet', name: NODE_DAEMONSET } }],
    },
  };
}

const ROLE: NodePluginRole = {
  dir: EVENTS_DIR,
  name: 'node-events',
  rules: [{ apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] }],
  roleHeader: [
    'What the node plugin may do with Events: post them (create) and count repeats (patch), in any',
    'namespace a pod with a nixmount volume runs in, and in `default` for its Node\'s own. Nothing else: it reads no object.',
  ],
  roleTitle: 'the Events ClusterRole',
};

const TOKEN_VOLUME = 'kube-api-access';

/**
 * A JSON patch (RFC 6902) of the DaemonSet. The token goes to the nixmount container only,
 * in the projected volume kubelet's automount would make for every container (token, the
 * cluster CA of kube-root-ca.crt, the namespace): the sidecars still get none.
 */
function daemonSetPatch(): ManifestFile {
  const patch = [
    noted('The token (rotated by kubelet; nixmount reads it for every call), the CA and the namespace.', {
      op: 'add',
      path: '/spec/template/spec/volumes/-',
      value: {
        name: TOKEN_VOLUME,
        projected: {
          sources: [
            { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
    }),
    noted('containers/0 is the nixmount container of daemonset.yaml.', {
      op: 'add', path: '/spec/template/spec/containers/0/volumeMounts/-', value: { name: TOKEN_VOLUME, mountPath: SERVICE_ACCOUNT_DIR, readOnly: true },
    }),
    { op: 'add', path: '/spec/template/spec/containers/0/args/-', value: '--kubernetes-events' },
  ];
  return {
    path: at('daemonset-patch.yaml'),
    header: ['The node plugin gets a service-account token to authenticate to the API server, and --kubernetes-events.'],
    // A JSON patch is a list; the renderer writes any value, a list as well as a map.
    object: patch as unknown as Record<string, unknown>,
  };
}

/** The files of manifests/events/. */
export function eventsFiles(options: ManifestOptions): ManifestFile[] {
  return [kustomization(), ...nodePluginRoleFiles(ROLE, options), daemonSetPatch()];
}
