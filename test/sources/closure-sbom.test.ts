import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { cyclonedxSchemaErrors } from '../helpers/cyclonedx.js';
import { pushSigned, signingKey, startBinaryCache } from '../helpers/binary-cache.js';
import { mountsBelow, unmountBelow } from '../helpers/mounts.js';
import { buildFixture, nixEnv } from '../helpers/nix.js';
import { startTestPlugin } from '../helpers/plugin.js';
import { startServeProcess } from '../helpers/serve-process.js';
import { publishRequest, storeOf } from '../helpers/sources.js';
import { tempDir } from '../helpers/temp.js';

// Every volume carries /nix/var/nixmount/sbom.cdx.json beside closure.json: the same
// closure as a CycloneDX 1.6 SBOM. Read here from real published volumes (real Nix,
// real mounts, hardlink views and bind farms) and checked against Nix's own answers:
// `nix path-info --json -r` for the paths and references, `nix hash to-base16` for
// each NAR hash in hex, the CycloneDX project's JSON schema for the shape.

interface Component {
  type: string;
  'bom-ref': string;
  name: string;
  version?: string;
  hashes?: { alg: string; content: string }[];
  properties: { name: string; value: string }[];
}

interface Bom {
  bomFormat: string;
  specVersion: string;
  metadata: { component: Component };
  components: Component[];
  dependencies: { ref: string; dependsOn: string[] }[];
}

interface Info {
  path: string;
  narHash: string;
  references: string[];
}

const NIX_COMMAND = ['--extra-experimental-features', 'nix-command'];

/** `nix path-info --json -r` of `roots` in `store` (the default store when empty), sorted by path. */
async function pathInfo(roots: string[], store = ''): Promise<Info[]> {
  const args = [...NIX_COMMAND, 'path-info', ...(store ? ['--store', store] : []), '--json', '-r', ...roots];
  const parsed = JSON.parse((await execa('nix', args, { env: nixEnv })).stdout) as Info[] | Record<string, Omit<Info, 'path'>>;
  const infos = Array.isArray(parsed) ? parsed : Object.entries(parsed).map(([path, info]) => ({ path, ...info }));
  return infos.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Nix's own hex of each hash, in order. */
async function base16(hashes: string[]): Promise<string[]> {
  const { stdout } = await execa('nix', [...NIX_COMMAND, 'hash', 'to-base16', ...hashes], { env: nixEnv });
  return stdout.trim().split('\n');
}

/** The SBOM of the volume published at `target` (its /nix), as the workload reads it: its bytes and what they say. */
async function sbomOf(t: ExecutionContext, target: string): Promise<{ text: string; bom: Bom }> {
  const file = join(target, 'var/nixmount/sbom.cdx.json');
  t.is((await stat(file)).mode & 0o777, 0o444, 'readable by any user of the workload, written by none');
  const text = await readFile(file, 'utf8');
  t.is(await cyclonedxSchemaErrors(text), null, 'valid against the CycloneDX 1.6 JSON schema');
  return { text, bom: JSON.parse(text) as Bom };
}

/** The SBOM says exactly what Nix says of the closure of `roots`: paths, NAR hashes in hex, references (less a path's own), roots. */
async function assertMatchesNix(t: ExecutionContext, bom: Bom, target: string, roots: string[], store = ''): Promise<void> {
  const infos = await pathInfo(roots, store);
  t.deepEqual(bom.components.map((c) => c['bom-ref']), infos.map((info) => info.path), 'one component per store path of the closure');
  t.deepEqual(bom.components.map((c) => c['bom-ref']), await storeOf(target), "exactly the volume's store paths");
  t.deepEqual(
    bom.components.map((c) => c.hashes),
    (await base16(infos.map((info) => info.narHash))).map((hex) => [{ alg: 'SHA-256', content: hex }]),
    'the NAR hash of each path, in hex as `nix hash to-base16` gives it',
  );
  t.deepEqual(
    bom.dependencies.filter((d) => d.ref !== 'nixmount:volume'),
    infos.map((info) => ({ ref: info.path, dependsOn: info.references.filter((ref) => ref !== info.path).sort() })),
    'one dependency entry per path: its references',
  );
  const sortedRoots = [...roots].sort();
  t.deepEqual(bom.dependencies.find((d) => d.ref === 'nixmount:volume'), { ref: 'nixmount:volume', dependsOn: sortedRoots }, 'the volume depends on its roots');
  t.deepEqual(bom.metadata.component.properties, sortedRoots.map((value) => ({ name: 'nixmount:root', value })));
  const narSizes = JSON.parse(await readFile(join(target, 'var/nixmount/closure.json'), 'utf8')).paths.map((p: { narSize: number }) => String(p.narSize));
  t.deepEqual(bom.components.map((c) => c.properties.find((p) => p.name === 'nixmount:narSize')?.value), narSizes, "closure.json's sizes");
}

/** A fixture whose names carry a version (`nixmount-fixture-app-1.<hex>`), so the split is seen on real paths. */
const versionedFixture = () => buildFixture(`-1.${randomBytes(4).toString('hex')}`);

test.serial('a hardlink volume carries the SBOM of its closure: exactly its paths, their hashes and references, its root', async (t) => {
  const fixture = await versionedFixture();
  const node = await startTestPlugin(t);
  const target = join(node.dir, 'target');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-sbom', target, { paths: fixture.root }));
  const { bom } = await sbomOf(t, target);
  t.like(bom, { bomFormat: 'CycloneDX', specVersion: '1.6' });
  await assertMatchesNix(t, bom, target, [fixture.root]);
  const version = /-(1\.[0-9a-f]{8})$/.exec(fixture.root)![1];
  t.deepEqual(
    bom.components.map((c) => [c.name, c.version]).sort(),
    [['nixmount-fixture-app', version], ['nixmount-fixture-data', version], ['nixmount-fixture-lib', version]],
  );
  t.like(bom.metadata.component, { type: 'application', name: 'nixmount-fixture-app', version });
  for (const component of bom.components) {
    t.deepEqual(component.properties.filter((p) => p.name === 'nixmount:origin'), [{ name: 'nixmount:origin', value: 'built' }]);
    t.true(component.properties.some((p) => p.name === 'nixmount:deriver' && p.value.endsWith('.drv')), `${component['bom-ref']} names its deriver`);
  }
  t.log(JSON.stringify(bom.components[0], null, 2));
});

test.serial('several roots: the volume depends on each', async (t) => {
  const fixture = await versionedFixture();
  const lib = fixture.closure.find((path) => path.includes('-nixmount-fixture-lib-'))!;
  const node = await startTestPlugin(t);
  const target = join(node.dir, 'target');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-sbom-roots', target, { paths: `${fixture.root} ${lib}` }));
  const { bom } = await sbomOf(t, target);
  await assertMatchesNix(t, bom, target, [fixture.root, lib]);
  t.is(bom.metadata.component.name, [lib, fixture.root].sort().map((path) => (path === lib ? 'nixmount-fixture-lib' : 'nixmount-fixture-app')).join('+'));
});

test.serial('a bind-farm volume carries the same bytes as a hardlink volume of the same closure on another node', async (t) => {
  const fixture = await versionedFixture();
  const dir = await tempDir(t);
  const socket = join(dir, 'csi.sock');
  const serve = await startServeProcess(['--endpoint', `unix://${socket}`, '--state-dir', join(dir, 'state'), '--node-id', 'n', '--view-idle', '0'], socket);
  t.teardown(async () => {
    serve.client.close();
    serve.child.kill('SIGKILL');
    await serve.child.catch(() => undefined);
    await unmountBelow(dir);
  });
  const farm = join(dir, 'pods/a/mount');
  await mkdir(join(dir, 'pods/a'), { recursive: true });
  await serve.client.call('node', 'NodePublishVolume', { ...publishRequest('v1', farm, { paths: fixture.root }), readonly: true });
  t.true((await mountsBelow(farm)).length > fixture.closure.length, 'a bind farm: one bind per store path');
  const fromFarm = await sbomOf(t, farm);
  await assertMatchesNix(t, fromFarm.bom, farm, [fixture.root]);

  const node = await startTestPlugin(t);
  const target = join(node.dir, 'target');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-sbom-hardlink', target, { paths: fixture.root }));
  t.is((await sbomOf(t, target)).text, fromFarm.text, 'same closure, same roots, same origins: the same bytes');

  await serve.client.call('node', 'NodeUnpublishVolume', { volume_id: 'v1', target_path: farm });
  t.deepEqual(await mountsBelow(dir), [], 'no mount left behind');
});

test.serial('a substituted closure: each component names its cache and carries its signatures', async (t) => {
  const fixture = await versionedFixture();
  const cache = await startBinaryCache(t);
  const key = await signingKey(t, 'nixmount-sbom-1');
  await pushSigned(cache, key, [fixture.root]);
  const storeRoot = await tempDir(t, 'nixmount-store-');
  const store = `local?root=${storeRoot}`;
  const node = await startTestPlugin(t, { nix: { storeUri: store, substituters: [cache.url], trustedPublicKeys: [key.publicKey] } });
  const target = join(node.dir, 'target');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-sbom-substituted', target, { paths: fixture.root }));
  const { bom } = await sbomOf(t, target);
  await assertMatchesNix(t, bom, target, [fixture.root], store);
  for (const component of bom.components) {
    const values = (name: string) => component.properties.filter((p) => p.name === name).map((p) => p.value);
    t.deepEqual(values('nixmount:origin'), ['substituted']);
    t.deepEqual(values('nixmount:substituter'), [cache.url]);
    t.true(values('nixmount:signature').some((sig) => sig.startsWith(`${key.name}:`)), `${component['bom-ref']} carries the cache's signature`);
  }
});
