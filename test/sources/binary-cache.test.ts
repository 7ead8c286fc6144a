import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { execa } from 'execa';
import { closedPort, pushSigned, signingKey, silentServer, startBinaryCache } from '../helpers/binary-cache.js';
import { buildFixture, nixEnv } from '../helpers/nix.js';
import { startTestPlugin } from '../helpers/plugin.js';
import { assertNothingLeft, buildCount, counterFile, countedExpression, publishRequest, storeOf, uniqueSalt } from '../helpers/sources.js';
import { tempDir } from '../helpers/temp.js';

/** A second simulated node: its own chroot store, substituting only from `caches`. */
async function chrootNode(t: Parameters<typeof startTestPlugin>[0], caches: string[], trustedKeys: string[], connectTimeoutSec = 2, stalledDownloadTimeoutSec = 2) {
  const storeRoot = await tempDir(t, 'nixmount-store-');
  const node = await startTestPlugin(t, {
    nix: { storeUri: `local?root=${storeRoot}`, substituters: caches, trustedPublicKeys: trustedKeys, connectTimeoutSec, downloadAttempts: 1, stalledDownloadTimeoutSec },
    sources: { policy: { allowExpressions: true, allowBuilds: false } },
  });
  return { node, storeRoot, gcRoots: join(storeRoot, 'nix/var/nix/gcroots/nixmount') };
}

async function validIn(storeRoot: string, path: string): Promise<boolean> {
  const result = await execa('nix-store', ['--store', `local?root=${storeRoot}`, '--check-validity', path], { env: nixEnv, reject: false });
  return result.exitCode === 0;
}

test('node B substitutes from a signed loopback cache what node A built and pushed', async (t) => {
  const cache = await startBinaryCache(t);
  const key = await signingKey(t, 'nixmount-test-a');
  const nodeA = await startTestPlugin(t, {
    sources: { policy: { allowExpressions: true, allowBuilds: true }, pushTo: cache.fileUri },
    nix: { pushSecretKeyFile: key.secretKeyFile },
  });
  const { node: nodeB, storeRoot } = await chrootNode(t, [cache.url], [key.publicKey]);
  const counter = await counterFile(t);
  const salt = uniqueSalt();
  const expression = countedExpression({ salt, counter, withData: true });

  const targetA = join(nodeA.dir, 'target');
  await nodeA.client.call('node', 'NodePublishVolume', publishRequest('vol-a', targetA, { expression }));
  // Node A pushes in the background; node B asks once it is done.
  await nodeA.plugin.services.cachePusher.settled();
  const targetB = join(nodeB.dir, 'target');
  await nodeB.client.call('node', 'NodePublishVolume', publishRequest('vol-b', targetB, { expression }));

  t.is(await buildCount(counter), 1, 'only node A built');
  const closure = await storeOf(targetA);
  t.true(closure.length >= 4);
  t.deepEqual(await storeOf(targetB), closure);
  for (const path of closure) t.true(await validIn(storeRoot, path), `${path} is valid in node B's store`);
  t.is(await readFile(join(targetB, 'var/result/greeting'), 'utf8'), `counted ${salt}\n`);
});

test('a node that may not build refuses what no cache has with PERMISSION_DENIED naming the policy', async (t) => {
  const cache = await startBinaryCache(t);
  const key = await signingKey(t, 'nixmount-test-nobuild');
  const { node, storeRoot, gcRoots } = await chrootNode(t, [cache.url], [key.publicKey]);
  const counter = await counterFile(t);
  const target = join(node.dir, 'target');
  const result = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-nobuild', target, { expression: countedExpression({ salt: uniqueSalt(), counter }) }));
  t.log(result.details);
  t.is(result.code, status.PERMISSION_DENIED);
  t.regex(result.details, /must be built, and this node's source policy allows substitution only \(serve --builds allowed\)/);
  t.true(result.details.includes(cache.url));
  t.is(await buildCount(counter), 0);
  await assertNothingLeft(t, node, target, gcRoots);
  t.truthy(storeRoot);
});

test('a path signed with an untrusted key is refused, naming the signature problem and the cache', async (t) => {
  const fixture = await buildFixture(uniqueSalt());
  const cache = await startBinaryCache(t);
  const trusted = await signingKey(t, 'nixmount-test-trusted');
  const rogue = await signingKey(t, 'nixmount-test-rogue');
  await pushSigned(cache, rogue, [fixture.root]);
  const { node, storeRoot, gcRoots } = await chrootNode(t, [cache.url], [trusted.publicKey]);
  const target = join(node.dir, 'target');

  const result = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-rogue', target, { paths: fixture.root }));
  t.log(result.details);
  t.is(result.code, status.FAILED_PRECONDITION);
  t.regex(result.details, /is not signed by any of the keys in 'trusted-public-keys'/);
  t.regex(result.details, /this node trusts the keys nixmount-test-trusted \(--trusted-public-keys\)/);
  t.true(result.details.includes(cache.url));
  t.true(result.details.includes(fixture.root));
  t.false(await validIn(storeRoot, fixture.root));
  await assertNothingLeft(t, node, target, gcRoots);
});

test('a cache on a closed port fails the publish, naming the cache', async (t) => {
  const fixture = await buildFixture(uniqueSalt());
  const key = await signingKey(t, 'nixmount-test-closed');
  const url = `http://127.0.0.1:${await closedPort()}`;
  const { node, gcRoots } = await chrootNode(t, [url], [key.publicKey], 1);
  const target = join(node.dir, 'target');

  const result = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-closed', target, { paths: fixture.root }));
  t.log(result.details);
  t.is(result.code, status.FAILED_PRECONDITION);
  t.true(result.details.includes(url), result.details);
  t.regex(result.details, /Couldn't connect to server/);
  await assertNothingLeft(t, node, target, gcRoots);
});

test('a cache that accepts connections but never answers fails the publish, naming the cache', async (t) => {
  const fixture = await buildFixture(uniqueSalt());
  const key = await signingKey(t, 'nixmount-test-silent');
  const url = await silentServer(t);
  const { node, gcRoots } = await chrootNode(t, [url], [key.publicKey], 1, 1);
  const target = join(node.dir, 'target');

  const result = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-silent', target, { paths: fixture.root }));
  t.log(result.details);
  t.is(result.code, status.FAILED_PRECONDITION);
  t.true(result.details.includes(url), result.details);
  t.regex(result.details, /Timeout was reached/);
  await assertNothingLeft(t, node, target, gcRoots);
});
