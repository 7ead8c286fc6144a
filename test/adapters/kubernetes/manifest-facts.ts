import { dirname } from 'node:path';
import type { ExecutionContext } from 'ava';
import { KubernetesAdapter } from '../../../src/adapters/kubernetes/kubernetes-adapter.js';
import { checkControllerFacts } from './controller-facts.js';

/* Checks what kubelet and the sidecars expect of the manifests (docs/kubernetes.md) on parsed manifest objects, by reading them as kubelet and the sidecars would. */

export type Obj = Record<string, any>;

export interface ParsedManifests {
  /** Every object of every file, by file path. */
  files: Map<string, Obj[]>;
}

export function flags(args: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const arg of args) {
    const match = /^--([^=]+)=(.*)$/.exec(arg);
    if (match) out.set(match[1]!, match[2]!);
  }
  return out;
}

export function only(t: ExecutionContext, objects: Obj[], kind: string): Obj {
  const found = objects.filter((o) => o.kind === kind);
  t.is(found.length, 1, `exactly one ${kind}`);
  return found[0]!;
}

export function mountOf(container: Obj, volumeName: string): Obj {
  const mount = (container.volumeMounts as Obj[]).find((m) => m.name === volumeName);
  if (!mount) throw new Error(`container ${container.name} does not mount ${volumeName}`);
  return mount;
}

/** The volume mounted at the deepest mount path containing `path` in `container`. */
export function mountHolding(container: Obj, path: string): Obj | undefined {
  return (container.volumeMounts as Obj[])
    .filter((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
}

/** The objects a kustomization.yaml in `dir` ('' for manifests/ itself) installs. */
export function installedBy(t: ExecutionContext, manifests: ParsedManifests, dir: string): Obj[] {
  const prefix = dir ? `${dir}/` : '';
  const [kustomization] = manifests.files.get(`${prefix}kustomization.yaml`) ?? [];
  t.is(kustomization?.kind, 'Kustomization', `${prefix}kustomization.yaml`);
  return ((kustomization?.resources ?? []) as string[]).flatMap((path) => {
    const file = manifests.files.get(`${prefix}${path}`);
    t.truthy(file, `kustomization resource ${prefix}${path} exists`);
    return file ?? [];
  });
}

/** Asserts the facts of the node plugin and of the controller; returns the driver name they agree on. */
export function checkManifestFacts(t: ExecutionContext, manifests: ParsedManifests, kubeletDir = '/var/lib/kubelet'): string {
  const examples = [...manifests.files].filter(([path]) => path.startsWith('examples/')).flatMap(([, file]) => file);
  const installed = installedBy(t, manifests, '');
  const namespace = only(t, installed, 'Namespace');
  const serviceAccount = only(t, installed, 'ServiceAccount');
  const driver = only(t, installed, 'CSIDriver');
  const daemonSet = only(t, installed, 'DaemonSet');
  t.deepEqual(installed.map((o) => o.kind).sort(), ['CSIDriver', 'DaemonSet', 'Namespace', 'Service', 'ServiceAccount'], 'no RBAC: the plugin calls no API');
  const driverName: string = driver.metadata.name;

  // CSIDriver
  // Persistent: the node plugin also publishes the controller's PVs (the adapter tells them apart by csi.storage.k8s.io/ephemeral).
  t.deepEqual(driver.spec, { attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: ['Ephemeral', 'Persistent'], fsGroupPolicy: 'None' });

  // Namespace and identity
  t.is(daemonSet.metadata.namespace, namespace.metadata.name);
  t.is(serviceAccount.metadata.namespace, namespace.metadata.name);
  t.is(namespace.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
  const pod: Obj = daemonSet.spec.template.spec;
  t.is(pod.serviceAccountName, serviceAccount.metadata.name);
  t.is(serviceAccount.automountServiceAccountToken, false);
  t.is(pod.automountServiceAccountToken, false);
  t.is(pod.priorityClassName, 'system-node-critical');
  t.true((pod.tolerations as Obj[]).some((tol) => tol.operator === 'Exists' && !tol.key && !tol.effect));
  t.deepEqual(daemonSet.spec.selector.matchLabels, daemonSet.spec.template.metadata.labels);
  const volumes = new Map<string, Obj>((pod.volumes as Obj[]).map((v) => [v.name, v]));
  const containers = pod.containers as Obj[];
  for (const c of containers) t.truthy(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${c.name} has resource requests`);

  // The plugin container
  const plugin = containers.find((c) => c.args?.includes('serve'))!;
  t.truthy(plugin, 'a container runs `nixmount serve`');
  t.deepEqual(plugin.command, ['nixmount']);
  // NixOS nodes: serve runs behind own-store, which says how views reach the store's self-bind and changes no mount.
  t.deepEqual(plugin.args.slice(0, 4), ['own-store', '--store-dir=/nix/store', '--', 'serve']);
  const args = flags(plugin.args);
  t.is(args.get('orchestrator'), 'kubernetes');
  t.is(args.get('driver-name'), driverName);
  t.is(args.get('node-id'), '$(NODE_NAME)');
  t.deepEqual(plugin.env.find((e: Obj) => e.name === 'NODE_NAME')?.valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
  t.is(plugin.securityContext.privileged, true);
  const endpoint = args.get('endpoint')!;
  t.true(endpoint.startsWith('unix://'));
  const socket = endpoint.slice('unix://'.length);
  t.is(socket, '/csi/csi.sock');
  const pluginSocketMount = mountHolding(plugin, socket)!;
  const socketVolume = volumes.get(pluginSocketMount.name)!;
  t.is(pluginSocketMount.mountPath, dirname(socket));

  // kubelet's directory: same path inside and out, Bidirectional, and the flag agrees.
  t.is(args.get('kubelet-dir'), kubeletDir);
  const kubeletMount = (plugin.volumeMounts as Obj[]).find((m) => m.mountPath === kubeletDir)!;
  t.truthy(kubeletMount, 'the plugin mounts the kubelet dir');
  t.is(kubeletMount.mountPropagation, 'Bidirectional');
  t.is(volumes.get(kubeletMount.name)?.hostPath?.path, kubeletDir);

  // The store and the state dir share one mount (hardlinks cannot cross mounts).
  const stateDir = args.get('state-dir')!;
  const storeMount = mountHolding(plugin, '/nix/store')!;
  t.is(mountHolding(plugin, stateDir)?.name, storeMount.name, 'state dir and /nix/store on the same mount');
  t.is(storeMount.mountPath, '/nix');
  t.is(volumes.get(storeMount.name)?.hostPath?.path, '/nix');

  // node-driver-registrar: the socket it reports to kubelet is the plugin's socket on the host.
  const registrar = containers.find((c) => String(c.image).includes('csi-node-driver-registrar'))!;
  const registrarArgs = flags(registrar.args);
  const registrationPath = registrarArgs.get('kubelet-registration-path')!;
  t.is(registrationPath, `${kubeletDir}/plugins/${driverName}/csi.sock`);
  t.is(socketVolume.hostPath.path, dirname(registrationPath));
  t.is(registrarArgs.get('csi-address'), socket);
  t.is(mountOf(registrar, pluginSocketMount.name).mountPath, dirname(socket));
  const registration = mountOf(registrar, (pod.volumes as Obj[]).find((v) => v.hostPath?.path === `${kubeletDir}/plugins_registry`)!.name);
  t.is(registration.mountPath, '/registration');

  // livenessprobe: serves :9808/healthz by calling Probe on the same socket; the plugin's probes use it.
  const probe = containers.find((c) => String(c.image).includes('livenessprobe'))!;
  const probeArgs = flags(probe.args);
  t.is(probeArgs.get('csi-address'), socket);
  t.is(mountOf(probe, pluginSocketMount.name).mountPath, dirname(socket));
  t.is(probeArgs.get('health-port'), '9808');
  const healthPort = (plugin.ports as Obj[]).find((p) => p.name === plugin.livenessProbe.httpGet.port);
  t.is(healthPort?.containerPort, 9808);
  t.is(plugin.livenessProbe.httpGet.path, '/healthz');
  t.is(plugin.readinessProbe.httpGet.port, plugin.livenessProbe.httpGet.port);

  checkMetricsFacts(t, manifests, installed, daemonSet, plugin);

  // Example pods: this driver, a /nix mount, attributes the adapter accepts.
  const adapter = new KubernetesAdapter({ nodeName: 'n', kubeletDir });
  const pods = examples.filter((o) => o.kind === 'Pod');
  t.true(pods.length >= 3, 'example pods');
  for (const example of pods) {
    const csiVolumes = (example.spec.volumes as Obj[]).filter((v) => v.csi);
    t.true(csiVolumes.length > 0);
    for (const volume of csiVolumes) {
      t.is(volume.csi.driver, driverName);
      const parsed = adapter.parseVolumeContext({ ...volume.csi.volumeAttributes, 'csi.storage.k8s.io/ephemeral': 'true' });
      t.true(parsed.ephemeral);
      for (const container of example.spec.containers as Obj[]) {
        const mount = mountOf(container, volume.name);
        t.is(mount.mountPath, '/nix');
        if (volume.csi.readOnly) t.is(mount.readOnly, true, `${example.metadata.name}: a read-only volume mounted read-only`);
      }
    }
  }
  t.true(pods.some((p) => p.spec.volumes.some((v: Obj) => v.csi?.readOnly === false)), 'a read-write example');

  checkControllerFacts(t, manifests, { driverName, namespace: namespace.metadata.name, socket, image: plugin.image });
  return driverName;
}

/**
 * Metrics: the plugin listens where its `metrics` port says, on no port another container of
 * the pod uses (one network namespace); the headless Service and the optional PodMonitor
 * (its own kustomize component, not installed by default) select the plugin's pods and that port.
 */
function checkMetricsFacts(t: ExecutionContext, manifests: ParsedManifests, installed: Obj[], daemonSet: Obj, plugin: Obj): void {
  const address = flags(plugin.args).get('metrics-address');
  t.regex(address ?? '', /^:\d+$/, 'the plugin serves metrics on every interface of its pod');
  const port = (plugin.ports as Obj[]).find((p) => p.name === 'metrics');
  t.is(port?.containerPort, Number(address!.slice(1)));
  const podPorts = (daemonSet.spec.template.spec.containers as Obj[]).flatMap((c) => [
    ...((c.ports ?? []) as Obj[]).map((p) => p.containerPort as number),
    ...((c.args ?? []) as string[]).flatMap((a) => /^--(?:http-endpoint|health-port)=:?(\d+)$/.exec(a)?.[1] ?? []).map(Number),
  ]);
  t.is(podPorts.filter((p) => p === port?.containerPort).length, 1, 'no other container of the pod listens on the metrics port');
  const podLabels = daemonSet.spec.template.metadata.labels;
  const service = only(t, installed, 'Service');
  t.is(service.metadata.namespace, daemonSet.metadata.namespace);
  t.is(service.spec.clusterIP, 'None', 'headless: every node scraped on its own');
  t.deepEqual(service.spec.selector, podLabels);
  t.deepEqual(service.spec.ports, [{ name: 'metrics', port: port?.containerPort, targetPort: 'metrics', protocol: 'TCP' }]);
  const component = manifests.files.get('monitoring/kustomization.yaml')?.[0];
  t.like(component, { apiVersion: 'kustomize.config.k8s.io/v1alpha1', kind: 'Component', resources: ['podmonitor.yaml'] });
  const podMonitor = manifests.files.get('monitoring/podmonitor.yaml')?.[0];
  t.is(podMonitor?.kind, 'PodMonitor');
  t.is(podMonitor?.apiVersion, 'monitoring.coreos.com/v1');
  t.is(podMonitor?.metadata.namespace, daemonSet.metadata.namespace);
  t.deepEqual(podMonitor?.spec.selector, { matchLabels: podLabels });
  t.like(podMonitor?.spec.podMetricsEndpoints[0], { port: 'metrics', path: '/metrics' });
  t.false(installed.some((o) => o.kind === 'PodMonitor'), 'the PodMonitor is optional: clusters without the operator have no such kind');
}
