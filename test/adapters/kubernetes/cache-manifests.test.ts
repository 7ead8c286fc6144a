import test, { type ExecutionContext } from 'ava';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, execaSync } from 'execa';
import { parse, parseAllDocuments } from 'yaml';
import { CACHE_KEY_SECRET, UPSTREAM_CACHE, UPSTREAM_KEY } from '../../../src/adapters/kubernetes/manifests/cache.js';
import { defaultManifestOptions } from '../../../src/adapters/kubernetes/manifests/options.js';
import { renderInstallStream, renderManifests } from '../../../src/adapters/kubernetes/manifests/render.js';
import { ADAPTER_OPTIONS } from '../../../src/adapters/registry.js';
import { optionsOf, parseCommandLine } from '../../../src/settings/command-line.js';
import { DEFAULT_DRIVER_NAME, PLUGIN_OPTIONS } from '../../../src/settings/plugin-options.js';
import { packageVersion } from '../../../src/settings/version.js';
import { signingKey } from '../../helpers/binary-cache.js';
import { applyJsonPatch } from '../../helpers/json-patch.js';
import { buildFixture, nixEnv } from '../../helpers/nix.js';
import { NGINX, startNginxCache } from '../../helpers/nginx-cache.js';
import { tempDir } from '../../helpers/temp.js';

// manifests/cache/: an nginx WebDAV binary cache and the node plugin wired to it. The
// wiring is asserted on the objects as kustomize builds them, and the rendered nginx.conf
// runs for real (Debian's nginx) with a push and a substitution through it.

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const MANIFESTS = join(REPO, 'manifests');
const CLI = join(REPO, 'dist/src/cli.js');
type Obj = Record<string, any>;

const objectsOf = (text: string): Obj[] => parseAllDocuments(text).map((doc: any) => doc.toJS());
const one = (objects: Obj[], kind: string): Obj => {
  const found = objects.filter((o) => o.kind === kind && o.metadata?.labels?.['app.kubernetes.io/component'] === 'cache');
  if (found.length !== 1) throw new Error(`expected one cache ${kind}, found ${found.length}`);
  return found[0]!;
};

/** The serve command line of the patched DaemonSet, with kubelet's $(VAR) expansion of the container's env done for `publicKey`. */
function serveValues(plugin: Obj, publicKey: string) {
  const args = (plugin.args as string[]).map((arg) => arg.replaceAll('$(CACHE_PUBLIC_KEY)', publicKey));
  return parseCommandLine(optionsOf('serve', PLUGIN_OPTIONS, ADAPTER_OPTIONS), args.slice(args.indexOf('--') + 2), {}).values as Record<string, any>;
}

function checkCacheInstall(t: ExecutionContext, objects: Obj[], namespace: string): void {
  const daemonSet = objects.find((o) => o.kind === 'DaemonSet')!;
  const pod = daemonSet.spec.template.spec;
  const [plugin, ...sidecars] = pod.containers as Obj[];
  t.is(plugin!.name, 'nixmount');
  const service = one(objects, 'Service');
  const deployment = one(objects, 'Deployment');
  const claim = one(objects, 'PersistentVolumeClaim');
  const configMap = one(objects, 'ConfigMap');
  for (const object of [service, deployment, claim, configMap]) t.is(object.metadata.namespace, namespace);

  // The node plugin: the cache first, pushed to, its key trusted, the secret key from the Secret.
  const url = `http://${service.metadata.name}.${namespace}.svc:${service.spec.ports[0].port}`;
  const values = serveValues(plugin!, 'nixmount-cluster-1:PUBLIC=');
  t.deepEqual(values.substituters, [url, UPSTREAM_CACHE]);
  t.is(values.pushTo, url);
  t.deepEqual(values.trustedPublicKeys, ['nixmount-cluster-1:PUBLIC=', UPSTREAM_KEY]);
  t.deepEqual(plugin!.env.find((e: Obj) => e.name === 'CACHE_PUBLIC_KEY'), { name: 'CACHE_PUBLIC_KEY', valueFrom: { secretKeyRef: { name: CACHE_KEY_SECRET, key: 'public' } } });
  const keyVolume = pod.volumes.find((v: Obj) => v.secret?.secretName === CACHE_KEY_SECRET);
  t.deepEqual(keyVolume, { name: 'cache-key', secret: { secretName: CACHE_KEY_SECRET, items: [{ key: 'secret', path: 'secret' }], defaultMode: 0o400 } });
  const keyMount = plugin!.volumeMounts.find((m: Obj) => m.name === keyVolume.name);
  t.deepEqual(keyMount, { name: 'cache-key', mountPath: values.pushKeyFile.slice(0, -'/secret'.length), readOnly: true });
  t.is(values.pushKeyFile, `${keyMount.mountPath}/secret`);
  for (const sidecar of sidecars) t.false((sidecar.volumeMounts ?? []).some((m: Obj) => m.name === keyVolume.name), `${sidecar.name} gets no key`);
  t.false(JSON.stringify(deployment).includes(CACHE_KEY_SECRET), 'the cache itself never sees the key');

  // The cache: the Service reaches the nginx pods (and not the node plugin's), on its named port, with the claim's data.
  const cachePod = deployment.spec.template.spec;
  t.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
  t.deepEqual(deployment.spec.template.metadata.labels, deployment.spec.selector.matchLabels);
  t.notDeepEqual(service.spec.selector, daemonSet.spec.selector.matchLabels);
  const nginx = cachePod.containers.find((c: Obj) => c.name === 'nginx');
  t.is(nginx.ports.find((p: Obj) => p.name === service.spec.ports[0].targetPort).containerPort, 8080);
  t.is(deployment.spec.replicas, 1);
  t.is(deployment.spec.strategy.type, 'Recreate', 'a ReadWriteOnce claim is let go of before the next pod starts');
  t.deepEqual(claim.spec.accessModes, ['ReadWriteOnce']);
  t.deepEqual(cachePod.volumes.find((v: Obj) => v.name === 'data'), { name: 'data', persistentVolumeClaim: { claimName: claim.metadata.name } });
  t.deepEqual(cachePod.volumes.find((v: Obj) => v.name === 'config'), { name: 'config', configMap: { name: configMap.metadata.name } });
  t.deepEqual(nginx.args, ['nginx', '-c', '/etc/nixmount-cache/nginx.conf', '-g', 'daemon off;']);
  t.is(nginx.readinessProbe.httpGet.path, '/healthz', 'ready before the first push writes nix-cache-info');
  const conf = configMap.data['nginx.conf'] as string;
  t.regex(conf, /^\s*dav_methods PUT;$/m);
  t.regex(conf, /^\s*create_full_put_path on;$/m);
  t.regex(conf, /^\s*client_max_body_size 0;$/m, 'no limit: NARs are as large as store paths');
  t.regex(conf, /^\s*listen 8080;$/m);
  t.regex(configMap.data['nix-cache-info'], /^Priority: 30$/m, 'before cache.nixos.org (40)');
}

const options = (namespace = 'nixmount') => ({ ...defaultManifestOptions(DEFAULT_DRIVER_NAME, packageVersion()), namespace });

test('the cache component, applied as kustomize applies it, wires the node plugin to an nginx WebDAV cache', (t) => {
  for (const namespace of ['nixmount', 'csi-system']) {
    const files = renderManifests(options(namespace));
    const component = parse(files.get('cache/kustomization.yaml')!);
    t.is(component.kind, 'Component');
    const daemonSet = parse(files.get('daemonset.yaml')!);
    t.deepEqual(component.patches, [{ path: 'daemonset-patch.yaml', target: { group: 'apps', version: 'v1', kind: 'DaemonSet', name: daemonSet.metadata.name } }]);
    const patched = applyJsonPatch(daemonSet, parse(files.get(`cache/${component.patches[0].path}`)!));
    const resources = (component.resources as string[]).map((path) => parse(files.get(`cache/${path}`)!));
    t.deepEqual(resources.map((o) => o.kind), ['ConfigMap', 'PersistentVolumeClaim', 'Deployment', 'Service']);
    checkCacheInstall(t, [patched, ...resources], namespace);
    // The default install pushes nowhere and names no cache.
    const base = parse(files.get('kustomization.yaml')!).resources.map((path: string) => parse(files.get(path)!));
    t.false(JSON.stringify(base).includes('--push-to'));
    t.false(JSON.stringify(base).includes(CACHE_KEY_SECRET));
  }
});

test('`k8s manifests --cache` prints the install with the cache and the wiring; with --kubernetes-events both patches apply', async (t) => {
  const { stdout } = await execa('node', [CLI, 'k8s', 'manifests', '--cache'], { stripFinalNewline: false });
  t.is(stdout, renderInstallStream(options(), { cache: true }));
  const objects = objectsOf(stdout);
  t.deepEqual(objects.map((o) => o.kind), ['Namespace', 'ServiceAccount', 'CSIDriver', 'DaemonSet', 'Service', 'ConfigMap', 'PersistentVolumeClaim', 'Deployment', 'Service']);
  checkCacheInstall(t, objects, 'nixmount');

  const both = objectsOf(renderInstallStream(options(), { cache: true, events: true }));
  checkCacheInstall(t, both, 'nixmount');
  const plugin = both.find((o) => o.kind === 'DaemonSet')!.spec.template.spec.containers[0];
  t.true(plugin.args.includes('--kubernetes-events'));
  t.like(serveValues(plugin, 'k:P='), { kubernetesEvents: true, pushTo: 'http://nixmount-cache.nixmount.svc:8080' });
});

const kubectl = (() => {
  try {
    return execaSync('kubectl', ['version', '--client'], { reject: false, timeout: 20_000 }).exitCode === 0;
  } catch {
    return false;
  }
})();

(kubectl ? test : test.skip)('`kubectl kustomize` of an overlay with the cache component builds what `k8s manifests --cache` prints', async (t) => {
  const dir = await tempDir(t);
  await cp(MANIFESTS, join(dir, 'manifests'), { recursive: true });
  await mkdir(join(dir, 'overlay'));
  await writeFile(
    join(dir, 'overlay/kustomization.yaml'),
    'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../manifests\ncomponents:\n  - ../manifests/cache\n',
  );
  const { stdout } = await execa('kubectl', ['kustomize', join(dir, 'overlay')]);
  const built = objectsOf(stdout);
  checkCacheInstall(t, built, 'nixmount');
  const byKind = (a: Obj, b: Obj) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);
  t.deepEqual(built.sort(byKind), objectsOf(renderInstallStream(options(), { cache: true })).sort(byKind));
});

test.serial('the rendered nginx.conf, run by a real nginx on loopback: a signed push by PUT, then a substitution from it', async (t) => {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: run scripts/setup.sh (Debian's nginx)`);
  const configMap = parse(renderManifests(options()).get('cache/configmap.yaml')!) as Obj;
  // Only what differs between a pod and a test process: paths, the loopback port, the user.
  const cache = await startNginxCache(t, (dir, port) => ({
    root: join(dir, 'data/store'),
    text: `daemon off;\n${(configMap.data['nginx.conf'] as string)
      .replace('user nginx;', 'user root;')
      .replace('error_log /dev/stderr', `error_log ${dir}/error.log`)
      .replace('pid /tmp/nginx.pid', `pid ${dir}/nginx.pid`)
      .replace('access_log /dev/stdout;', `access_log ${dir}/access.log;\n  proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;`)
      .replace('listen 8080;', `listen 127.0.0.1:${port};`)
      .replaceAll('/var/cache/nixmount', join(dir, 'data'))}`,
  }));
  // What the init container does: the root and the cache's nix-cache-info.
  await writeFile(join(cache.root, 'nix-cache-info'), configMap.data['nix-cache-info']);
  t.is(await (await fetch(`${cache.url}/healthz`)).text(), 'ok\n');

  const key = await signingKey(t, 'nixmount-cluster-1');
  const fixture = await buildFixture(`cache-manifests-${process.pid}-${Date.now()}`);
  await execa('nix', ['copy', '--to', `${cache.url}?secret-key=${key.secretKeyFile}`, fixture.root], { env: nixEnv });
  const puts = (await cache.requests()).filter((line) => line.startsWith('PUT '));
  t.true(puts.some((line) => line.startsWith('PUT /nar/')), puts.join('\n'));
  t.is((await readdir(cache.root)).filter((name) => name.endsWith('.narinfo')).length, fixture.closure.length);

  const node = await tempDir(t, 'nixmount-store-');
  await execa('nix', ['copy', '--from', cache.url, '--to', `local?root=${node}`, '--option', 'trusted-public-keys', key.publicKey, fixture.root], { env: nixEnv });
  const valid = await execa('nix-store', ['--store', `local?root=${node}`, '--check-validity', fixture.root], { env: nixEnv, reject: false });
  t.is(valid.exitCode, 0, valid.stderr);
});
