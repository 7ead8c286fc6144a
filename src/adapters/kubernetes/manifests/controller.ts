import { SOCKET_DIR, SOCKET_PATH } from './daemonset.js';
import { EXAMPLE_HELLO, EXAMPLE_HELLO_AARCH64 } from './examples.js';
import { noted, type ManifestFile } from './manifest-file.js';
import { commonLabels, type ManifestOptions } from './options.js';

/*
 * The optional controller (manifests/controller/): `nixmount serve --mode controller`
 * behind the external-provisioner sidecar, so StorageClasses and PVCs create volumes.
 * Installed with `kubectl apply -k manifests/controller` after the node plugin.
 */

export const CONTROLLER_DIR = 'controller';
export const CONTROLLER_SERVICE_ACCOUNT = 'nixmount-controller';
export const CONTROLLER_STATE_CLAIM = 'nixmount-controller-state';
/** Where the controller keeps its volume records: on the claim above, so they outlive the pod. */
export const CONTROLLER_STATE_DIR = '/var/lib/nixmount-controller';

/** Paths below manifests/controller/ that its kustomization.yaml installs. */
export const CONTROLLER_INSTALL_FILES = [
  'serviceaccount.yaml',
  'clusterrole.yaml',
  'clusterrolebinding.yaml',
  'role.yaml',
  'rolebinding.yaml',
  'state-pvc.yaml',
  'deployment.yaml',
] as const;

const labels = () => commonLabels('controller');
const at = (path: string) => `${CONTROLLER_DIR}/${path}`;

/** ClusterRoles are cluster-wide: named after the namespace so two installs do not share one. */
function clusterRoleName(options: ManifestOptions): string {
  return `${options.namespace}-provisioner`;
}

function serviceAccountSubject(options: ManifestOptions): Record<string, string> {
  return { kind: 'ServiceAccount', name: CONTROLLER_SERVICE_ACCOUNT, namespace: options.namespace };
}

function serviceAccount(options: ManifestOptions): ManifestFile {
  return {
    path: at('serviceaccount.yaml'),
    header: [
      'The controller\'s identity. Unlike the node plugin\'s, it has a token: the',
      'external-provisioner sidecar watches PVCs and creates their PVs through the API.',
      'nixmount itself calls no API.',
    ],
    object: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: CONTROLLER_SERVICE_ACCOUNT, namespace: options.namespace, labels: labels() } },
  };
}

function clusterRole(options: ManifestOptions): ManifestFile {
  const rule = (apiGroups: string[], resources: string[], verbs: string[]) => ({ apiGroups, resources, verbs });
  return {
    path: at('clusterrole.yaml'),
    header: ['What the external-provisioner may touch: it watches PVCs of this driver\'s StorageClasses', 'and creates and deletes their PVs.'],
    object: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: clusterRoleName(options), labels: labels() },
      rules: [
        rule([''], ['persistentvolumes'], ['get', 'list', 'watch', 'create', 'patch', 'delete']),
        rule([''], ['persistentvolumeclaims'], ['get', 'list', 'watch', 'update']),
        rule(['storage.k8s.io'], ['storageclasses', 'csinodes', 'volumeattachments'], ['get', 'list', 'watch']),
        rule([''], ['nodes'], ['get', 'list', 'watch']),
        noted(
          'Provisioning failures (e.g. an unknown StorageClass parameter) reach the PVC as events.',
          rule([''], ['events'], ['list', 'watch', 'create', 'update', 'patch']),
        ),
      ],
    },
  };
}

function clusterRoleBinding(options: ManifestOptions): ManifestFile {
  return {
    path: at('clusterrolebinding.yaml'),
    header: ['Gives the controller\'s ServiceAccount the provisioner\'s ClusterRole.'],
    object: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: clusterRoleName(options), labels: labels() },
      subjects: [serviceAccountSubject(options)],
      roleRef: { kind: 'ClusterRole', name: clusterRoleName(options), apiGroup: 'rbac.authorization.k8s.io' },
    },
  };
}

function leaderElectionRole(options: ManifestOptions): ManifestFile {
  return {
    path: at('role.yaml'),
    header: ['Leader election: only one provisioner acts, even for a moment during a rollout.'],
    object: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'nixmount-provisioner-leader-election', namespace: options.namespace, labels: labels() },
      rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] }],
    },
  };
}

function leaderElectionRoleBinding(options: ManifestOptions): ManifestFile {
  return {
    path: at('rolebinding.yaml'),
    header: ['Gives the controller\'s ServiceAccount the leader-election Role.'],
    object: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'nixmount-provisioner-leader-election', namespace: options.namespace, labels: labels() },
      subjects: [serviceAccountSubject(options)],
      roleRef: { kind: 'Role', name: 'nixmount-provisioner-leader-election', apiGroup: 'rbac.authorization.k8s.io' },
    },
  };
}

function statePvc(options: ManifestOptions): ManifestFile {
  return {
    path: at('state-pvc.yaml'),
    header: [
      'The controller\'s only state: one small JSON record per volume (name, parameters), kept',
      'here so that a rescheduled controller still answers "same name, other parameters" with',
      'ALREADY_EXISTS. Losing it is no outage: every PV carries its whole volume context.',
    ],
    object: {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: CONTROLLER_STATE_CLAIM, namespace: options.namespace, labels: labels() },
      spec: noted(
        'No storageClassName: the cluster\'s default StorageClass (not nixmount\'s: the controller must\nnot depend on itself). Without a default, see docs/controller.md, "Where the controller\'s state lives", for a hostPath.',
        { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '64Mi' } } },
      ),
    },
  };
}

function deployment(options: ManifestOptions): ManifestFile {
  return {
    path: at('deployment.yaml'),
    header: [
      'The controller: `nixmount serve --mode controller` behind the external-provisioner sidecar.',
      'It mounts nothing and runs no Nix; nodes never ask it anything.',
    ],
    object: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'nixmount-controller', namespace: options.namespace, labels: labels() },
      spec: {
        replicas: 1,
        strategy: noted('One writer of the state claim at a time: the old pod stops before the new one starts.', { type: 'Recreate' }),
        selector: { matchLabels: labels() },
        template: {
          metadata: { labels: labels() },
          spec: {
            serviceAccountName: CONTROLLER_SERVICE_ACCOUNT,
            containers: [controllerContainer(options), provisionerContainer(options)],
            volumes: [
              { name: 'socket-dir', emptyDir: {} },
              { name: 'state', persistentVolumeClaim: { claimName: CONTROLLER_STATE_CLAIM } },
            ],
          },
        },
      },
    },
  };
}

function controllerContainer(options: ManifestOptions): Record<string, unknown> {
  return {
    name: 'nixmount',
    image: options.image,
    command: ['nixmount'],
    args: [
      'serve',
      '--mode=controller',
      noted("The provisioner matches StorageClasses by the name GetPluginInfo reports: the CSIDriver's name.", `--driver-name=${options.driverName}`),
      noted('local: the controller serves no node. It reports no topology, so its volumes are usable on every node.', '--orchestrator=local'),
      `--endpoint=unix://${SOCKET_PATH}`,
      `--state-dir=${CONTROLLER_STATE_DIR}`,
    ],
    resources: { requests: { cpu: '10m', memory: '64Mi' } },
    volumeMounts: [
      { name: 'socket-dir', mountPath: SOCKET_DIR },
      { name: 'state', mountPath: CONTROLLER_STATE_DIR },
    ],
  };
}

function provisionerContainer(options: ManifestOptions): Record<string, unknown> {
  return {
    name: 'csi-provisioner',
    image: options.provisionerImage,
    args: noted(
      'No --extra-create-metadata: its csi.storage.k8s.io/* keys would reach CreateVolume as\nparameters, and nixmount refuses unknown keys by name.',
      [`--csi-address=${SOCKET_PATH}`, '--leader-election', `--leader-election-namespace=${options.namespace}`, '--timeout=120s'],
    ),
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    volumeMounts: [{ name: 'socket-dir', mountPath: SOCKET_DIR }],
  };
}

export function controllerKustomizationFile(): ManifestFile {
  return {
    path: at('kustomization.yaml'),
    header: [
      'kubectl apply -k manifests/controller installs the optional controller (PVCs and PVs), after',
      'the node plugin (kubectl apply -k manifests/), whose namespace it uses. The StorageClass and',
      'claim in examples/ are applied separately once their store paths are set.',
    ],
    object: { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: [...CONTROLLER_INSTALL_FILES] },
  };
}

const REPLACE = 'Replace the store paths with ones your nodes\' substituters serve.';

export function controllerExampleFiles(options: ManifestOptions): ManifestFile[] {
  return [
    {
      path: at('examples/storageclass.yaml'),
      header: [
        'A StorageClass is a named closure: its parameters are the user keys of a volume context',
        '(paths, <system> such as x86_64-linux, expression, flakeRef). CreateVolume checks them (an',
        'unknown key or a malformed store path fails the PVC with an event naming it) and returns them',
        'as the PV\'s volumeAttributes, from which every node publishes on its own.',
        REPLACE,
      ],
      object: {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: 'nix-hello' },
        provisioner: options.driverName,
        parameters: { 'x86_64-linux': EXAMPLE_HELLO, 'aarch64-linux': EXAMPLE_HELLO_AARCH64 },
        reclaimPolicy: noted('Deleting the PVC deletes the volume record; nothing else exists to reclaim.', 'Delete'),
        volumeBindingMode: 'Immediate',
        allowVolumeExpansion: false,
      },
    },
    {
      path: at('examples/pvc.yaml'),
      header: [
        'A claim on the nix-hello closure, shared read-only by any number of pods on any nodes.',
        'Kubernetes requires a size; it means nothing to Nix (CreateVolume reports 0, "unknown").',
      ],
      object: {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'nix-hello' },
        spec: { storageClassName: 'nix-hello', accessModes: ['ReadOnlyMany'], resources: { requests: { storage: '1Mi' } } },
      },
    },
    {
      path: at('examples/pod.yaml'),
      header: ['A pod using the claim: the same /nix as an inline volume, from a PV.'],
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'nix-hello-pvc' },
        spec: {
          containers: [
            {
              name: 'hello',
              image: 'busybox:1.36',
              command: ['/nix/var/result/bin/hello'],
              volumeMounts: [{ name: 'nix', mountPath: '/nix', readOnly: true }],
            },
          ],
          volumes: [{ name: 'nix', persistentVolumeClaim: { claimName: 'nix-hello', readOnly: true } }],
        },
      },
    },
  ];
}

/** Every file of manifests/controller/, in a stable order. */
export function controllerFiles(options: ManifestOptions): ManifestFile[] {
  return [
    serviceAccount(options),
    clusterRole(options),
    clusterRoleBinding(options),
    leaderElectionRole(options),
    leaderElectionRoleBinding(options),
    statePvc(options),
    deployment(options),
    controllerKustomizationFile(),
    ...controllerExampleFiles(options),
  ];
}
