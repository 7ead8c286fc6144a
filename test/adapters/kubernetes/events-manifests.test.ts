import test from 'ava';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, execaSync } from 'execa';
import { parse, parseAllDocuments } from 'yaml';
import { SERVICE_ACCOUNT_DIR } from '../../../src/adapters/kubernetes/api/in-cluster.js';
import { defaultManifestOptions } from '../../../src/adapters/kubernetes/manifests/options.js';
import { renderInstallStream, renderManifests } from '../../../src/adapters/kubernetes/manifests/render.js';
import { ADAPTER_OPTIONS } from '../../../src/adapters/registry.js';
import { optionsOf, parseCommandLine } from '../../../src/settings/command-line.js';
import { DEFAULT_DRIVER_NAME, PLUGIN_OPTIONS } from '../../../src/settings/plugin-options.js';
import { packageVersion } from '../../../src/settings/version.js';
import { applyJsonPatch } from '../../helpers/json-patch.js';
import { tempDir } from '../../helpers/temp.js';

// manifests/events/: the RBAC and the DaemonSet patch that turn Kubernetes Events on,
// and nothing of it in the default install.

const MANIFESTS = fileURLToPath(new URL('../../../../manifests/', import.meta.url));
type Obj = Record<string, any>;

function checkEventsInstall(t: import('ava').ExecutionContext, objects: Obj[], namespace: string): void {
  const daemonSet = objects.find((o) => o.kind === 'DaemonSet')!;
  const pod = daemonSet.spec.template.spec;
  const [plugin, ...sidecars] = pod.containers as Obj[];
  t.is(plugin!.name, 'nixmount');
  t.is(plugin!.args.at(-1), '--kubernetes-events');
  t.false(pod.automountServiceAccountToken, 'no container gets a token by automount');
  t.deepEqual(plugin!.volumeMounts.find((m: Obj) => m.mountPath === SERVICE_ACCOUNT_DIR), { name: 'kube-api-access', mountPath: SERVICE_ACCOUNT_DIR, readOnly: true });
  for (const sidecar of sidecars) t.false((sidecar.volumeMounts ?? []).some((m: Obj) => m.name === 'kube-api-access'), `${sidecar.name} gets no token`);
  const volume = pod.volumes.find((v: Obj) => v.name === 'kube-api-access');
  t.deepEqual(volume.projected.sources.map((s: Obj) => Object.keys(s)[0]), ['serviceAccountToken', 'configMap', 'downwardAPI']);
  t.deepEqual(volume.projected.sources.map((s: Obj) => s.serviceAccountToken?.path ?? s.configMap?.items[0].path ?? s.downwardAPI.items[0].path), ['token', 'ca.crt', 'namespace']);

  const role = objects.find((o) => o.kind === 'ClusterRole')!;
  t.deepEqual(role.rules, [{ apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] }]);
  const binding = objects.find((o) => o.kind === 'ClusterRoleBinding')!;
  t.deepEqual(binding.roleRef, { kind: 'ClusterRole', name: role.metadata.name, apiGroup: 'rbac.authorization.k8s.io' });
  t.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace }]);
  t.is(daemonSet.metadata.namespace, namespace);

  // The patched command line is one `nixmount serve` takes, with Events on.
  const args = plugin!.args as string[];
  const serve = args.slice(args.indexOf('--') + 2);
  const { values } = parseCommandLine(optionsOf('serve', PLUGIN_OPTIONS, ADAPTER_OPTIONS), serve, {});
  t.like(values, { orchestrator: 'kubernetes', kubernetesEvents: true });
}

test('the events component, applied as kustomize applies it, gives the nixmount container alone a token, the Events role and --kubernetes-events', (t) => {
  for (const namespace of ['nixmount', 'csi-system']) {
    const files = renderManifests({ ...defaultManifestOptions(DEFAULT_DRIVER_NAME, packageVersion()), namespace });
    const component = parse(files.get('events/kustomization.yaml')!);
    t.is(component.kind, 'Component');
    const daemonSet = parse(files.get('daemonset.yaml')!);
    t.deepEqual(component.patches, [{ path: 'daemonset-patch.yaml', target: { group: 'apps', version: 'v1', kind: 'DaemonSet', name: daemonSet.metadata.name } }]);
    const patched = applyJsonPatch(daemonSet, parse(files.get(`events/${component.patches[0].path}`)!));
    const resources = (component.resources as string[]).map((path) => parse(files.get(`events/${path}`)!));
    checkEventsInstall(t, [patched, ...resources], namespace);
    // The default install has neither role nor token nor flag.
    const base = parse(files.get('kustomization.yaml')!).resources.map((path: string) => parse(files.get(path)!));
    t.false(base.some((o: Obj) => /Role/.test(o.kind)));
    t.false(JSON.stringify(base).includes('--kubernetes-events'));
  }
});

const streamObjects = (text: string): Obj[] => parseAllDocuments(text).map((doc: any) => doc.toJS());
const byKind = (a: Obj, b: Obj) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);

test('`k8s manifests --kubernetes-events` prints the install with the component applied; without it, none of it', (t) => {
  const options = defaultManifestOptions(DEFAULT_DRIVER_NAME, packageVersion());
  const objects = streamObjects(renderInstallStream(options, { events: true }));
  t.deepEqual(objects.map((o) => o.kind), ['Namespace', 'ServiceAccount', 'CSIDriver', 'DaemonSet', 'Service', 'ClusterRole', 'ClusterRoleBinding']);
  checkEventsInstall(t, objects, 'nixmount');
  const plain = renderInstallStream(options);
  t.false(plain.includes('--kubernetes-events'));
  t.deepEqual(streamObjects(plain).map((o) => o.kind), ['Namespace', 'ServiceAccount', 'CSIDriver', 'DaemonSet', 'Service']);
});

test('`k8s manifests --pod-store-paths` adds a role that may get pods, and nothing else, to the install with Events', (t) => {
  const options = defaultManifestOptions(DEFAULT_DRIVER_NAME, packageVersion());
  const objects = streamObjects(renderInstallStream(options, { podStorePaths: true }));
  checkEventsInstall(t, objects.filter((o) => !o.metadata.name.endsWith('-pod-reader')), 'nixmount');
  const roles = objects.filter((o) => o.metadata.name === 'nixmount-node-pod-reader');
  t.deepEqual(roles.map((o) => o.kind), ['ClusterRole', 'ClusterRoleBinding']);
  t.deepEqual(roles[0]!.rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]);
  t.deepEqual(roles[1]!.subjects, [{ kind: 'ServiceAccount', name: 'nixmount-node', namespace: 'nixmount' }]);
  t.like(roles[1]!.roleRef, { kind: 'ClusterRole', name: 'nixmount-node-pod-reader' });
});

const kubectl = (() => {
  try {
    return execaSync('kubectl', ['version', '--client'], { reject: false, timeout: 20_000 }).exitCode === 0;
  } catch {
    return false;
  }
})();

(kubectl ? test : test.skip)('`kubectl kustomize` of an overlay with the events component builds the same facts', async (t) => {
  const dir = await tempDir(t);
  await cp(MANIFESTS, join(dir, 'manifests'), { recursive: true });
  await mkdir(join(dir, 'overlay'));
  await writeFile(
    join(dir, 'overlay/kustomization.yaml'),
    'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../manifests\ncomponents:\n  - ../manifests/events\n',
  );
  const { stdout } = await execa('kubectl', ['kustomize', join(dir, 'overlay')]);
  const built = streamObjects(stdout);
  checkEventsInstall(t, built, 'nixmount');
  // `k8s manifests --kubernetes-events` prints exactly what kustomize builds.
  const printed = streamObjects(renderInstallStream(defaultManifestOptions(DEFAULT_DRIVER_NAME, packageVersion()), { events: true }));
  t.deepEqual(built.sort(byKind), printed.sort(byKind));
});
