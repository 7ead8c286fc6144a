import { noted, type ManifestFile } from './manifest-file.js';
import { commonLabels, type ManifestOptions } from './options.js';

export const SERVICE_ACCOUNT = 'nixmount-node';

export function namespaceFile(options: ManifestOptions): ManifestFile {
  return {
    path: 'namespace.yaml',
    header: ['The namespace of the nixmount node plugin.'],
    object: {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: options.namespace,
        labels: {
          ...commonLabels('namespace'),
          'pod-security.kubernetes.io/enforce': noted("The plugin container is privileged: it mounts into kubelet's pod directories.", 'privileged'),
        },
      },
    },
  };
}

export function serviceAccountFile(options: ManifestOptions): ManifestFile {
  return {
    path: 'serviceaccount.yaml',
    header: [
      'Least privilege: the node plugin, node-driver-registrar and livenessprobe call no',
      'Kubernetes API. Registration goes through kubelet\'s plugin socket and the pod\'s',
      'identity arrives in the volume context (podInfoOnMount), so there is no Role or',
      'ClusterRole, and no API token is mounted into the pods — unless the events component',
      '(events/) is used: then the nixmount container alone gets a token that may post Events.',
    ],
    object: {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: SERVICE_ACCOUNT, namespace: options.namespace, labels: commonLabels('node-plugin') },
      automountServiceAccountToken: false,
    },
  };
}

export function csiDriverFile(options: ManifestOptions): ManifestFile {
  return {
    path: 'csidriver.yaml',
    header: ['Tells kubelet how to treat volumes of this driver.'],
    object: {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'CSIDriver',
      metadata: { name: options.driverName, labels: commonLabels('csi-driver') },
      spec: {
        attachRequired: noted(
          "Nothing to attach: a closure is mounted from the node's own store. The optional controller\n(controller/) only creates PVs; it never publishes to nodes.",
          false,
        ),
        podInfoOnMount: noted(
          'kubelet adds csi.storage.k8s.io/pod.* and csi.storage.k8s.io/ephemeral ("true" only for inline\nvolumes) to the volume context; nixmount logs the pod and answers OK to a late unpublish of an\ninline volume.',
          true,
        ),
        volumeLifecycleModes: noted(
          'Ephemeral: inline volumes in pod specs, living and dying with their pod.\nPersistent: PVs, created by the controller from a StorageClass or written by hand.',
          ['Ephemeral', 'Persistent'],
        ),
        fsGroupPolicy: noted(
          "Never chown/chmod for a pod's fsGroup: the files are hardlinks sharing their inodes with\nthe node's /nix/store and with every other pod, and read-only mounts cannot change anyway.",
          'None',
        ),
      },
    },
  };
}

export const INSTALL_FILES = ['namespace.yaml', 'serviceaccount.yaml', 'csidriver.yaml', 'daemonset.yaml', 'metrics-service.yaml'] as const;

export function kustomizationFile(): ManifestFile {
  return {
    path: 'kustomization.yaml',
    header: ['kubectl apply -k manifests/ installs the driver. The pods in examples/ are applied', 'separately (kubectl apply -f manifests/examples/) once their store paths are set.'],
    object: {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [...INSTALL_FILES],
    },
  };
}
