import test, { type ExecutionContext } from 'ava';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { pushSigned, signingKey, startBinaryCache } from '../helpers/binary-cache.js';
import { buildFixture, copyToChrootStore, nixEnv } from '../helpers/nix.js';
import { startTestPlugin } from '../helpers/plugin.js';
import { publishRequest, storeOf, uniqueSalt } from '../helpers/sources.js';
import { tempDir } from '../helpers/temp.js';

// Every volume carries /nix/var/nixmount/closure.json: what `nix path-info --json -r`
// says of its closure, and where each path came from. Read here from real published
// volumes (real Nix, real mounts): a closure built in the node store, one copied into
// it, one substituted from a signed binary cache.

type Entry = Record<string, unknown> & { path: string };

/** `nix path-info --json -r` of `root` in `store` (the default store when empty), as closure.json states it: signatures and deriver always present. */
async function pathInfo(root: string, store = ''): Promise<Entry[]> {
  const args = ['path-info', ...(store ? ['--store', store] : []), '--json', '-r', root];
  const parsed = JSON.parse((await execa('nix', args, { env: nixEnv })).stdout) as Entry[] | Record<string, Omit<Entry, 'path'>>;
  const infos: Entry[] = Array.isArray(parsed) ? parsed : Object.entries(parsed).map(([path, info]) => ({ path, ...info }));
  return infos.map((info) => ({ ...info, signatures: info.signatures ?? [], deriver: info.deriver ?? null })).sort((a, b) => a.path.localeCompare(b.path));
}

/** closure.json of the volume published at `target` (its /nix), as the workload reads it. */
async function closureFile(t: ExecutionContext, target: string): Promise<{ version: number; paths: Entry[] }> {
  const file = join(target, 'var/nixmount/closure.json');
  t.is((await stat(file)).mode & 0o777, 0o444, 'readable by any user of the workload, written by none');
  t.is((await stat(join(target, 'var/nixmount'))).mode & 0o777, 0o755);
  return JSON.parse(await readFile(file, 'utf8'));
}

const withoutOrigin = ({ origin: _origin, substituter: _substituter, ...info }: Entry) => info;

test.serial('a closure built in the node store: closure.json is its path-info, every path built here', async (t) => {
  const fixture = await buildFixture(`provenance-${uniqueSalt()}`);
  const node = await startTestPlugin(t);
  const target = join(node.dir, 'target');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-built', target, { paths: fixture.root }));
  const closure = await closureFile(t, target);
  t.is(closure.version, 1);
  t.deepEqual(closure.paths.map((entry) => entry.path), await storeOf(target), 'exactly the volume\'s store paths');
  t.deepEqual(closure.paths.map(withoutOrigin), await pathInfo(fixture.root));
  t.deepEqual(closure.paths.map((entry) => entry.origin), fixture.closure.map(() => 'built'));
  t.log(JSON.stringify(closure.paths[0], null, 2));
});

test.serial('a closure copied into the node store is from the node store; one substituted names its cache and carries its signatures', async (t) => {
  const fixture = await buildFixture(`provenance-${uniqueSalt()}`);
  // Copied: valid in the node store, neither built there nor fetched by this plugin.
  const copiedRoot = await tempDir(t, 'nixmount-store-');
  await copyToChrootStore(copiedRoot, [fixture.root]);
  const copied = await startTestPlugin(t, { nix: { storeUri: `local?root=${copiedRoot}` } });
  const copiedTarget = join(copied.dir, 'target');
  await copied.client.call('node', 'NodePublishVolume', publishRequest('vol-copied', copiedTarget, { paths: fixture.root }));
  const fromStore = await closureFile(t, copiedTarget);
  t.deepEqual(fromStore.paths.map(withoutOrigin), await pathInfo(fixture.root, `local?root=${copiedRoot}`));
  t.deepEqual(fromStore.paths.map((entry) => entry.origin), fixture.closure.map(() => 'node-store'));

  // Substituted: an empty node store, a signed binary cache.
  const cache = await startBinaryCache(t);
  const key = await signingKey(t, 'nixmount-provenance-1');
  await pushSigned(cache, key, [fixture.root]);
  const storeRoot = await tempDir(t, 'nixmount-store-');
  const node = await startTestPlugin(t, { nix: { storeUri: `local?root=${storeRoot}`, substituters: [cache.url], trustedPublicKeys: [key.publicKey] } });
  const target = join(node.dir, 'target');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-substituted', target, { paths: fixture.root }));
  const substituted = await closureFile(t, target);
  t.deepEqual(substituted.paths.map(withoutOrigin), await pathInfo(fixture.root, `local?root=${storeRoot}`));
  for (const entry of substituted.paths) {
    t.like(entry, { origin: 'substituted', substituter: cache.url });
    t.true((entry.signatures as string[]).some((sig) => sig.startsWith(`${key.name}:`)), `${entry.path} carries the cache's signature`);
  }
});
