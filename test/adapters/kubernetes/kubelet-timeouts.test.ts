import test, { type ExecutionContext } from 'ava';
import { lstat, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { startGatedCache, type GatedCache } from '../../helpers/gated-cache.js';
import { pod, type Pod } from '../../helpers/kubelet-harness.js';
import { buildFixture, type Fixture } from '../../helpers/nix.js';
import { tempDir } from '../../helpers/temp.js';
import { startKubeletNode, stateEntries, type KubeletNode } from './kubelet-node.js';

// Short enough for a test, and the gate makes the publish outlast it for certain.
const SHORT_DEADLINE_MS = 2000;

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

/**
 * A node whose store (a chroot store) lacks the fixture, so every publish must
 * substitute it from a cache that holds its answers until the test opens it.
 */
async function slowNode(t: ExecutionContext, salt: string): Promise<KubeletNode & { cache: GatedCache; fixture: Fixture; p: Pod }> {
  const fixture = await buildFixture(salt);
  const cache = await startGatedCache(t, [fixture.root]);
  const chroot = await tempDir(t, 'nixmount-node-store-');
  const node = await startKubeletNode(t, { storeUri: `local?root=${chroot}`, substituters: [cache.url], trustedPublicKeys: [cache.publicKey] });
  const p = pod({ name: 'slow', volumes: [{ name: 'nix', readOnly: true, volumeAttributes: { paths: fixture.root } }] });
  return { ...node, cache, fixture, p };
}

test('a publish that outlives kubelet\'s deadline: the retry is ABORTED while it runs, then OK once it is done', async (t) => {
  const { node, kubelet, cache, fixture, p } = await slowNode(t, '-k8s-retry');
  const volume = p.volumes[0]!;
  const target = kubelet.targetPath(p, volume);

  t.is((await kubelet.mountVolume(p, volume, SHORT_DEADLINE_MS)).code, status.DEADLINE_EXCEEDED);
  await cache.held;
  // An uncertain answer: kubelet keeps its directory and vol_data.json for the retry.
  t.true(await exists(join(dirname(target), 'vol_data.json')));
  t.is((await kubelet.mountVolume(p, volume, SHORT_DEADLINE_MS)).code, status.ABORTED);
  t.deepEqual(await kubelet.mounts(), []);

  cache.open();
  const retries = await kubelet.mountVolumeWithRetries(p, volume, 10);
  t.is(retries[retries.length - 1]!.code, status.OK);
  t.true(retries.slice(0, -1).every((o) => o.code === status.ABORTED));
  t.deepEqual(await kubelet.mounts(), [target]);
  const data = fixture.closure.find((path) => path.includes('fixture-data'))!;
  t.is(await readFile(join(target, 'store', data.slice('/nix/store/'.length), 'share/greeting'), 'utf8'), 'greetings from the data path -k8s-retry\n');
  t.is((await stateEntries(node, 'volumes')).length, 1);

  t.deepEqual((await kubelet.deletePod(p)).map((o) => o.code), [status.OK]);
  t.deepEqual(await kubelet.mounts(), []);
  t.deepEqual(await stateEntries(node, 'volumes'), []);
});

test('NodeUnpublishVolume after a publish that never completed: ABORTED while it runs, then OK with nothing left behind', async (t) => {
  const { node, kubelet, cache, p } = await slowNode(t, '-k8s-abandoned');
  const volume = p.volumes[0]!;
  const target = kubelet.targetPath(p, volume);

  t.is((await kubelet.mountVolume(p, volume, SHORT_DEADLINE_MS)).code, status.DEADLINE_EXCEEDED);
  await cache.held;
  // The pod is deleted before its volume ever came up.
  t.is((await kubelet.unmountVolume(p, volume, SHORT_DEADLINE_MS)).code, status.ABORTED);

  cache.open();
  // kubelet retries the unpublish; it is OK only once the abandoned publish has finished, and then undoes it.
  t.deepEqual((await kubelet.deletePod(p, 12)).map((o) => o.code), [status.OK]);
  t.deepEqual(await kubelet.mounts(), []);
  t.false(await exists(target));
  t.false(await exists(dirname(target)));
  t.false(await exists(kubelet.podDir(p)));
  t.deepEqual(await stateEntries(node, 'volumes'), []);
  t.deepEqual(await stateEntries(node, 'overlays'), []);
  t.deepEqual(await stateEntries(node, 'views'), []);
  t.is((await kubelet.unmountVolume(p, volume)).code, status.OK);
});
