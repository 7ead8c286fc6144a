import { isBelow } from '../../common/paths.js';
import { kubeletPluginSocket } from '../kubelet-paths.js';
import { SERVICE_ACCOUNT } from './cluster-objects.js';
import { noted, type ManifestFile } from './manifest-file.js';
import { commonLabels, type ManifestOptions } from './options.js';

/** Where the three containers meet: the plugin's socket directory, at the same path in each. */
export const SOCKET_DIR = '/csi';
export const SOCKET_PATH = `${SOCKET_DIR}/csi.sock`;
export const REGISTRATION_DIR = '/registration';
export const HEALTH_PORT = 9808;
export const REGISTRAR_HEALTH_PORT = 9809;
/** nixmount's own /metrics; the pod shares one network namespace, so not the sidecars' 9808 or 9809. */
export const METRICS_PORT = 9810;
/** The node store's mount; the state dir lives inside it. */
export const NIX_DIR = '/nix';

export function daemonSetFile(options: ManifestOptions): ManifestFile {
  if (!isBelow(options.stateDir, NIX_DIR)) {
    throw new Error(`--state-dir: "${options.stateDir}" must be below ${NIX_DIR}: views are hardlinks into ${NIX_DIR}/store, and links cannot cross mounts`);
  }
  const labels = commonLabels('node-plugin');
  const kubeletDir = options.kubeletDir;
  return {
    path: 'daemonset.yaml',
    header: [
      'The node plugin: one pod per node, with node-driver-registrar (registers the socket',
      'with kubelet) and livenessprobe (serves /healthz by calling the plugin\'s Probe).',
    ],
    object: {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'nixmount-node', namespace: options.namespace, labels },
      spec: {
        selector: { matchLabels: labels },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: SERVICE_ACCOUNT,
            automountServiceAccountToken: noted('No container here calls the Kubernetes API (see serviceaccount.yaml).', false),
            priorityClassName: noted('Pods on the node cannot start without their /nix volume: never evict the plugin first.', 'system-node-critical'),
            tolerations: noted('Every node that may run pods with a nixmount volume needs the plugin, tainted or not.', [{ operator: 'Exists' }]),
            terminationGracePeriodSeconds: 30,
            containers: [pluginContainer(options), registrarContainer(options), livenessProbeContainer(options)],
            volumes: [
              { name: 'socket-dir', hostPath: { path: `${kubeletDir}/plugins/${options.driverName}`, type: 'DirectoryOrCreate' } },
              { name: 'registration-dir', hostPath: { path: `${kubeletDir}/plugins_registry`, type: 'Directory' } },
              { name: 'kubelet-dir', hostPath: { path: kubeletDir, type: 'Directory' } },
              noted(
                `The node store. nixmount's state dir (${options.stateDir}) is inside this one mount on purpose:\nviews are hardlinks into ${NIX_DIR}/store, and a hardlink cannot cross mount points,\nnot even two mounts of the same filesystem. Nodes without Nix get an empty store\nthat nixmount fills from its substituters.`,
                { name: 'nix', hostPath: { path: NIX_DIR, type: 'DirectoryOrCreate' } },
              ),
            ],
          },
        },
      },
    },
  };
}

function pluginContainer(options: ManifestOptions): Record<string, unknown> {
  return {
    name: 'nixmount',
    image: options.image,
    command: ['nixmount'],
    args: noted(
      "own-store: on NixOS /nix/store is a read-only bind of itself, and hardlinks from it into the\nstate dir would cross that mount (EXDEV). Views are linked in a private mount namespace\nof their own instead; own-store only logs that and changes no mount.",
      [
      'own-store',
      `--store-dir=${NIX_DIR}/store`,
      '--',
      'serve',
      '--orchestrator=kubernetes',
      `--driver-name=${options.driverName}`,
      `--endpoint=unix://${SOCKET_PATH}`,
      '--node-id=$(NODE_NAME)',
      `--state-dir=${options.stateDir}`,
      `--kubelet-dir=${options.kubeletDir}`,
      `--metrics-address=:${METRICS_PORT}`,
      ],
    ),
    env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
    securityContext: { privileged: true },
    ports: [
      noted("Served by the liveness-probe container (same pod network), which calls the plugin's Probe.", { name: 'healthz', containerPort: HEALTH_PORT, protocol: 'TCP' }),
      noted('Prometheus metrics (--metrics-address); metrics-service.yaml and monitoring/ point scrapers here.', { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' }),
    ],
    livenessProbe: { httpGet: { path: '/healthz', port: 'healthz' }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 5 },
    readinessProbe: { httpGet: { path: '/healthz', port: 'healthz' }, periodSeconds: 10, timeoutSeconds: 5 },
    resources: noted('No limits: a plugin killed while building a view fails every pod waiting for that view.', { requests: { cpu: '50m', memory: '128Mi' } }),
    volumeMounts: [
      { name: 'socket-dir', mountPath: SOCKET_DIR },
      noted(
        "Bidirectional: the mounts nixmount makes under kubelet's pod directories must reach the host,\nwhere kubelet hands them to the pod's containers.",
        { name: 'kubelet-dir', mountPath: options.kubeletDir, mountPropagation: 'Bidirectional' },
      ),
      { name: 'nix', mountPath: NIX_DIR },
    ],
  };
}

function registrarContainer(options: ManifestOptions): Record<string, unknown> {
  return {
    name: 'node-driver-registrar',
    image: options.registrarImage,
    args: [
      `--csi-address=${SOCKET_PATH}`,
      `--kubelet-registration-path=${kubeletPluginSocket(options.kubeletDir, options.driverName)}`,
      `--http-endpoint=:${REGISTRAR_HEALTH_PORT}`,
    ],
    ports: [{ name: 'registrar', containerPort: REGISTRAR_HEALTH_PORT, protocol: 'TCP' }],
    livenessProbe: { httpGet: { path: '/healthz', port: 'registrar' }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5 },
    resources: { requests: { cpu: '10m', memory: '20Mi' }, limits: { memory: '64Mi' } },
    volumeMounts: [
      { name: 'socket-dir', mountPath: SOCKET_DIR },
      { name: 'registration-dir', mountPath: REGISTRATION_DIR },
    ],
  };
}

function livenessProbeContainer(options: ManifestOptions): Record<string, unknown> {
  return {
    name: 'liveness-probe',
    image: options.livenessProbeImage,
    args: [`--csi-address=${SOCKET_PATH}`, `--health-port=${HEALTH_PORT}`, '--probe-timeout=3s'],
    resources: { requests: { cpu: '10m', memory: '20Mi' }, limits: { memory: '64Mi' } },
    volumeMounts: [{ name: 'socket-dir', mountPath: SOCKET_DIR }],
  };
}
