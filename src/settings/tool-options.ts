import { DEFAULT_KUBELET_DIR } from '../adapters/kubernetes/kubelet-paths.js';
import {
  defaultImage,
  DEFAULT_K8S_STATE_DIR,
  DEFAULT_NAMESPACE,
  LIVENESS_PROBE_IMAGE,
  PROVISIONER_IMAGE,
  REGISTRAR_IMAGE,
} from '../adapters/kubernetes/manifests/options.js';
import { DEFAULT_PLUGIN_ID } from '../adapters/nomad/tooling/nomad-check.js';
import { NOMAD_ACCESS_MODES } from '../adapters/nomad/nomad-paths.js';
import { flag, oneOfEach, text } from './option.js';
import { DEFAULT_DRIVER_NAME } from './plugin-options.js';
import { packageVersion } from './version.js';

const MANIFESTS = ['k8s manifests'] as const;
const VOLUME = ['nomad volume'] as const;

/**
 * Options of the offline tooling (`k8s manifests`, `nomad volume`, `nomad check`).
 * None has a variable: their output depends on the command line alone, so it is reproducible.
 */
export const TOOL_OPTIONS = {
  driverName: text({
    flag: 'driver-name', default: DEFAULT_DRIVER_NAME, arg: 'NAME',
    help: 'CSI driver name (nix.csi.store replaces nix-csi)', commands: MANIFESTS, section: 'manifests',
  }),
  namespace: text({ flag: 'namespace', default: DEFAULT_NAMESPACE, arg: 'NAME', help: 'namespace of the node plugin', commands: MANIFESTS, section: 'manifests' }),
  image: text({ flag: 'image', default: () => defaultImage(packageVersion()), arg: 'IMAGE', help: 'nixmount image', commands: MANIFESTS, section: 'manifests' }),
  kubeletDir: text({
    flag: 'kubelet-dir', default: DEFAULT_KUBELET_DIR, arg: 'DIR', help: 'kubelet\'s root directory on the nodes', commands: MANIFESTS, section: 'manifests',
  }),
  stateDir: text({
    flag: 'state-dir', default: DEFAULT_K8S_STATE_DIR, arg: 'DIR', help: 'nixmount\'s state directory, below /nix', commands: MANIFESTS, section: 'manifests',
  }),
  registrarImage: text({ flag: 'registrar-image', default: REGISTRAR_IMAGE, arg: 'IMAGE', help: 'node-driver-registrar image', commands: MANIFESTS, section: 'manifests' }),
  livenessProbeImage: text({
    flag: 'livenessprobe-image', default: LIVENESS_PROBE_IMAGE, arg: 'IMAGE', help: 'livenessprobe image', commands: MANIFESTS, section: 'manifests',
  }),
  provisionerImage: text({
    flag: 'provisioner-image', default: PROVISIONER_IMAGE, arg: 'IMAGE', help: 'external-provisioner image (controller)', commands: MANIFESTS, section: 'manifests',
  }),
  controller: flag({ flag: 'controller', help: 'print the controller\'s objects too (StorageClasses, PVCs)', commands: MANIFESTS, section: 'manifests' }),
  out: text({ flag: 'out', arg: 'DIR', help: 'write every file of manifests/ into DIR instead of printing', commands: MANIFESTS, section: 'manifests' }),
  kubernetesEvents: flag({
    flag: 'kubernetes-events', help: 'print the node plugin with Events on pods (the events/ component applied: its role, a token, the flag)',
    commands: MANIFESTS, section: 'manifests',
  }),
  podStorePaths: flag({
    flag: 'pod-store-paths', help: 'print the node plugin allowed to read pods, for podStorePaths volumes (the pod-store-paths/ and events/ components)',
    commands: MANIFESTS, section: 'manifests',
  }),
  cache: flag({
    flag: 'cache', help: 'print a cluster binary cache too (nginx WebDAV, its volume and Service) and the node plugin wired to it (the cache/ component applied)',
    commands: MANIFESTS, section: 'manifests',
  }),

  id: text({ flag: 'id', arg: 'ID', required: true, help: 'volume id', commands: VOLUME, section: 'volume spec' }),
  name: text({ flag: 'name', arg: 'NAME', defaultHelp: 'the id', help: 'volume name', commands: VOLUME, section: 'volume spec' }),
  paths: text({ flag: 'paths', arg: 'PATHS', help: 'store paths (space separated)', commands: VOLUME, section: 'volume spec' }),
  expression: text({ flag: 'expression', arg: 'TEXT', help: 'a Nix expression', commands: VOLUME, section: 'volume spec' }),
  flake: text({ flag: 'flake', arg: 'REF', help: 'a flake reference', commands: VOLUME, section: 'volume spec' }),
  accessMode: oneOfEach({
    flag: 'access-mode', choices: NOMAD_ACCESS_MODES, defaultList: ['multi-node-reader-only', 'single-node-reader-only'],
    help: 'access mode the volume offers (repeatable)', commands: VOLUME, section: 'volume spec',
  }),
  output: text({ flag: 'output', short: 'o', arg: 'FILE', help: 'write the spec to FILE instead of printing', commands: VOLUME, section: 'volume spec' }),
  pluginId: text({
    flag: 'plugin-id', default: DEFAULT_PLUGIN_ID, arg: 'ID', help: 'the csi_plugin id of the nixmount plugin job',
    commands: ['nomad volume', 'nomad check'], section: 'nomad',
  }),
} as const;

export type ToolOptions = typeof TOOL_OPTIONS;
