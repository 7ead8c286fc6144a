import test from 'ava';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { execa } from 'execa';
import { signingKey } from '../helpers/binary-cache.js';
import { nixEnv } from '../helpers/nix.js';
import { NGINX, startNginxCache, type NginxCache } from '../helpers/nginx-cache.js';
import { startTestPlugin } from '../helpers/plugin.js';
import { buildCount, counterFile, countedExpression, publishRequest, storeOf, uniqueSalt } from '../helpers/sources.js';
import { tempDir } from '../helpers/temp.js';

// The cluster cache of docs/caches.md, for real: Debian's nginx with its WebDAV module on
// loopback, node A building and pushing with the cluster's secret key, node B (its own
// chroot store, builds never) substituting with only the public key.
// scripts/setup.sh installs nginx; a machine without it fails here rather than skipping.
const run = test.serial;
test.before(() => {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: run scripts/setup.sh (Debian's nginx)`);
});

async function nodeB(t: Parameters<typeof startTestPlugin>[0], cache: string, keys: string[]) {
  const storeRoot = await tempDir(t, 'nixmount-store-');
  const node = await startTestPlugin(t, {
    nix: { storeUri: `local?root=${storeRoot}`, substituters: [cache], trustedPublicKeys: keys, connectTimeoutSec: 2, downloadAttempts: 1, stalledDownloadTimeoutSec: 2 },
    sources: { policy: { allowExpressions: true, allowBuilds: false } },
  });
  return { node, storeRoot };
}

async function nodeA(t: Parameters<typeof startTestPlugin>[0], cache: string, secretKeyFile: string | undefined) {
  return startTestPlugin(t, {
    sources: { policy: { allowExpressions: true, allowBuilds: true }, pushTo: cache, pushRetryMs: 500 },
    nix: { pushSecretKeyFile: secretKeyFile },
  });
}

/** Hashes of the store paths whose .narinfo is on the cache. */
async function narinfos(cache: NginxCache): Promise<string[]> {
  return (await readdir(cache.root)).filter((name) => name.endsWith('.narinfo')).map((name) => name.slice(0, -'.narinfo'.length)).sort();
}

/** Every .narinfo on the cache names a NAR that is there in full: no half-pushed path a substituter would trip on. */
async function assertConsistent(t: Parameters<typeof startTestPlugin>[0], cache: NginxCache): Promise<void> {
  for (const hash of await narinfos(cache)) {
    const info = await readFile(join(cache.root, `${hash}.narinfo`), 'utf8');
    const url = /^URL: (.*)$/m.exec(info)?.[1];
    t.truthy(url, `${hash}.narinfo names its NAR`);
    t.true(existsSync(join(cache.root, url!)), `${url} is on the cache`);
  }
}

function hashOf(path: string): string {
  return path.slice('/nix/store/'.length).split('-')[0]!;
}

const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(2);

run('node A builds and pushes to a real nginx WebDAV cache; node B, builds never, substitutes the same closure', async (t) => {
  const cache = await startNginxCache(t);
  const key = await signingKey(t, 'nixmount-cluster-1');
  const a = await nodeA(t, cache.url, key.secretKeyFile);
  const { node: b, storeRoot } = await nodeB(t, cache.url, [key.publicKey]);
  const counter = await counterFile(t);
  const salt = uniqueSalt();
  const expression = countedExpression({ salt, counter, withData: true });

  let started = performance.now();
  const targetA = join(a.dir, 'target');
  await a.client.call('node', 'NodePublishVolume', publishRequest('vol-a', targetA, { expression }));
  const builtIn = seconds(started);
  await a.plugin.services.cachePusher.settled();
  t.log(`node A: pushed in the background, done ${seconds(started)}s after the publish started`);
  const closure = await storeOf(targetA);
  t.deepEqual(await narinfos(cache), closure.map(hashOf).sort(), 'every path of the closure is on the cache');
  const puts = (await cache.requests()).filter((line) => line.startsWith('PUT '));
  t.true(puts.some((line) => line.startsWith('PUT /nar/')), 'NARs arrived by PUT');
  t.log(`node A: published (built) ${closure.length} paths in ${builtIn}s; cache holds ${await cache.bytes()} bytes after ${puts.length} PUTs`);

  started = performance.now();
  const targetB = join(b.dir, 'target');
  await b.client.call('node', 'NodePublishVolume', publishRequest('vol-b', targetB, { expression }));
  t.log(`node B: substituted ${closure.length} paths in ${seconds(started)}s`);
  t.is(await buildCount(counter), 1, 'only node A built');
  t.deepEqual(await storeOf(targetB), closure);
  for (const path of closure) {
    const valid = await execa('nix-store', ['--store', `local?root=${storeRoot}`, '--check-validity', path], { env: nixEnv, reject: false });
    t.is(valid.exitCode, 0, `${path} is valid in node B's store`);
  }
  t.is(await readFile(join(targetB, 'var/result/greeting'), 'utf8'), `counted ${salt}\n`);
});

run('node B refuses what reached the cache unsigned or signed by a key it does not trust', async (t) => {
  const cache = await startNginxCache(t);
  const trusted = await signingKey(t, 'nixmount-cluster-1');
  const rogue = await signingKey(t, 'nixmount-rogue-1');
  for (const [name, secret] of [['unsigned', undefined], ['rogue', rogue.secretKeyFile]] as const) {
    const a = await nodeA(t, cache.url, secret);
    const { node: b, storeRoot } = await nodeB(t, cache.url, [trusted.publicKey]);
    const counter = await counterFile(t);
    const expression = countedExpression({ salt: uniqueSalt(), counter });
    const targetA = join(a.dir, 'target');
    await a.client.call('node', 'NodePublishVolume', publishRequest(`vol-a-${name}`, targetA, { expression }));
    await a.plugin.services.cachePusher.settled();
    const [top] = (await storeOf(targetA)).filter((path) => path.includes('nixmount-counted-'));
    t.true((await narinfos(cache)).includes(hashOf(top!)), `the ${name} path is on the cache`);

    const result = await b.client.code('node', 'NodePublishVolume', publishRequest(`vol-b-${name}`, join(b.dir, 'target'), { expression }));
    t.log(`${name}: ${result.details}`);
    t.true(result.code === status.FAILED_PRECONDITION || result.code === status.PERMISSION_DENIED, `${name}: code ${result.code}`);
    const valid = await execa('nix-store', ['--store', `local?root=${storeRoot}`, '--check-validity', top!], { env: nixEnv, reject: false });
    t.not(valid.exitCode, 0, `the ${name} path is not in node B's store`);
    t.is(await buildCount(counter), 1, `${name}: node B built nothing`);
    await a.stop();
    await b.stop();
  }
});

/** A closure whose top path is large random data (slow to compress) above a small library path. */
function slowPushExpression(salt: string): string {
  return `let
  mk = name: script: derivation { inherit name; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "export PATH=/usr/bin:/bin; \${script}" ]; };
  lib = mk "nixmount-push-lib-${salt}" "mkdir -p $out; echo ${salt} > $out/lib";
in mk "nixmount-push-big-${salt}" "mkdir -p $out; echo \${lib} > $out/ref; head -c 24000000 /dev/urandom > $out/blob"`;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

run('nginx stopped mid-push: the publish succeeds, the cache holds no half-pushed path, and a later push retries', async (t) => {
  const cache = await startNginxCache(t);
  const key = await signingKey(t, 'nixmount-cluster-1');
  const a = await nodeA(t, cache.url, key.secretKeyFile);
  const expression = slowPushExpression(uniqueSalt());
  const target = join(a.dir, 'target');

  const started = performance.now();
  const publish = a.client.code('node', 'NodePublishVolume', publishRequest('vol-mid', target, { expression }));
  // The library path goes first (references before referrers); the big path is then being compressed.
  t.true(await waitFor(async () => (await cache.requests()).some((line) => /^PUT \/[a-z0-9]+\.narinfo$/.test(line)), 60_000), 'the first path was pushed');
  await cache.stop();
  t.log(`nginx stopped ${seconds(started)}s into the publish`);
  const result = await publish;
  t.log(`publish answered ${result.code} after ${seconds(started)}s`);
  t.is(result.code, status.OK);
  t.true(performance.now() - started < 10_000, 'the publish did not wait for the cut push');
  const pusher = a.plugin.services.cachePusher;
  await pusher.settled();
  const closure = await storeOf(target);
  const before = await narinfos(cache);
  t.log(`on the cache after the stop: ${before.length} of ${closure.length} paths (${await cache.bytes()} bytes)`);
  t.true(before.length < closure.length, 'the push was cut');
  await assertConsistent(t, cache);

  await cache.start();
  const retried = performance.now();
  await a.client.call('node', 'NodePublishVolume', publishRequest('vol-later', join(a.dir, 'later'), { expression }));
  const complete = await waitFor(async () => (await narinfos(cache)).length === closure.length, 60_000);
  t.log(`after nginx came back: ${(await narinfos(cache)).length} of ${closure.length} paths within ${seconds(retried)}s`);
  t.true(complete, 'the later push completed the closure on the cache');
  await assertConsistent(t, cache);
});
