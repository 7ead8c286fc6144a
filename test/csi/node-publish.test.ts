import test from 'ava';
import { lstat, mkdir, readFile, readdir, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { mountCapability } from '../helpers/csi-client.js';
import { mountOptionsAt, mountsBelow } from '../helpers/mounts.js';
import { buildFixture, type Fixture } from '../helpers/nix.js';
import { startTestPlugin, type TestPlugin } from '../helpers/plugin.js';
import { exists } from '../../support/fs.js';

function publishRequest(volumeId: string, target: string, paths: string, extra: Record<string, unknown> = {}) {
  return { volume_id: volumeId, target_path: target, volume_capability: mountCapability(), readonly: true, volume_context: { paths }, ...extra };
}

async function target(node: TestPlugin, name: string): Promise<string> {
  await mkdir(join(node.dir, 'pods', name), { recursive: true });
  return join(node.dir, 'pods', name, 'mount');
}

function dataFile(fixture: Fixture): string {
  return join(fixture.closure.find((p) => p.includes('fixture-data'))!, 'share/greeting');
}


async function listState(node: TestPlugin) {
  const list = async (sub: string) => (await readdir(join(node.stateDir, sub)).catch(() => [] as string[])).sort();
  return { views: await list('views'), volumes: await list('volumes'), overlays: await list('overlays') };
}

test('read-only publish: the closure is readable, inodes are the node store\'s, writes are refused', async (t) => {
  const fixture = await buildFixture();
  const node = await startTestPlugin(t);
  const tgt = await target(node, 'a');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-a', tgt, fixture.root));

  t.deepEqual(await mountsBelow(tgt), [tgt]);
  const options = await mountOptionsAt(tgt);
  for (const flag of ['ro', 'nosuid', 'nodev']) t.true(options?.includes(flag), flag);
  const inVolume = join(tgt, dataFile(fixture).slice('/nix/'.length));
  t.is(await readFile(inVolume, 'utf8'), 'greetings from the data path \n');
  t.is((await stat(inVolume)).ino, (await stat(dataFile(fixture))).ino);
  t.is(await readlink(join(tgt, 'var/result')), fixture.root);
  t.deepEqual((await readdir(join(tgt, 'store'))).filter((n) => !n.startsWith('.')).sort(), fixture.closure.map((p) => p.slice('/nix/store/'.length)));
  const error = (await writeFile(join(tgt, 'store/new-file'), 'x').catch((e: unknown) => e)) as NodeJS.ErrnoException;
  t.is(error.code, 'EROFS');
  // The volume carries a Nix database registering exactly the closure.
  t.true(await exists(join(tgt, 'var/nix/db/db.sqlite')));
});

test('read-write publish: writes land in the volume\'s upper dir, never in the store or the shared view', async (t) => {
  const fixture = await buildFixture();
  const node = await startTestPlugin(t);
  const tgt = await target(node, 'rw');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-rw', tgt, fixture.root, { readonly: false }));
  const greeting = join(tgt, dataFile(fixture).slice('/nix/'.length));
  await writeFile(greeting, 'changed\n');
  await writeFile(join(tgt, 'store/created-by-pod'), 'new\n');
  t.is(await readFile(greeting, 'utf8'), 'changed\n');
  t.is(await readFile(dataFile(fixture), 'utf8'), 'greetings from the data path \n');
  const [view] = (await listState(node)).views;
  t.is(await readFile(join(node.stateDir, 'views', view!, dataFile(fixture).slice(1)), 'utf8'), 'greetings from the data path \n');
  const [overlay] = (await listState(node)).overlays;
  t.is(await readFile(join(node.stateDir, 'overlays', overlay!, 'upper/store/created-by-pod'), 'utf8'), 'new\n');
  t.false(await exists('/nix/store/created-by-pod'));
});

test('a second volume of the same closure reuses the view: no new hardlinks are made', async (t) => {
  const fixture = await buildFixture('-nlink'); // a closure of its own: other tests' views would change link counts
  const node = await startTestPlugin(t);
  const before = (await stat(dataFile(fixture))).nlink;
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-1', await target(node, '1'), fixture.root));
  const afterFirst = (await stat(dataFile(fixture))).nlink;
  t.is(afterFirst, before + 1);
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-2', await target(node, '2'), fixture.root, { readonly: false }));
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-3', await target(node, '3'), fixture.root));
  t.is((await stat(dataFile(fixture))).nlink, afterFirst);
  t.is((await listState(node)).views.length, 1);
  t.is((await listState(node)).volumes.length, 3);
});

test('unpublish removes mount, target and record; republish and re-unpublish are idempotent', async (t) => {
  const fixture = await buildFixture();
  const node = await startTestPlugin(t);
  const tgt = await target(node, 'idem');
  const req = publishRequest('vol-idem', tgt, fixture.root);
  await node.client.call('node', 'NodePublishVolume', req);
  await node.client.call('node', 'NodePublishVolume', req);
  t.deepEqual(await mountsBelow(tgt), [tgt], 'republish did not stack a second mount');
  t.is((await node.client.code('node', 'NodePublishVolume', { ...req, readonly: false })).code, status.ALREADY_EXISTS);
  t.is((await node.client.code('node', 'NodePublishVolume', { ...req, volume_id: 'other' })).code, status.ALREADY_EXISTS);

  await node.client.call('node', 'NodeUnpublishVolume', { volume_id: 'vol-idem', target_path: tgt });
  t.deepEqual(await mountsBelow(tgt), []);
  t.false(await exists(tgt));
  t.deepEqual(await listState(node), { views: [], volumes: [], overlays: [] });
  await node.client.call('node', 'NodeUnpublishVolume', { volume_id: 'vol-idem', target_path: tgt });
});

test('a single-writer volume published at a second target is FAILED_PRECONDITION', async (t) => {
  const fixture = await buildFixture();
  const node = await startTestPlugin(t);
  await node.client.call('node', 'NodePublishVolume', publishRequest('one', await target(node, 'w1'), fixture.root));
  const second = await node.client.code('node', 'NodePublishVolume', publishRequest('one', await target(node, 'w2'), fixture.root));
  t.is(second.code, status.FAILED_PRECONDITION);
  const multi = { volume_capability: mountCapability('MULTI_NODE_READER_ONLY') };
  await node.client.call('node', 'NodePublishVolume', publishRequest('many', await target(node, 'm1'), fixture.root, multi));
  t.is((await node.client.code('node', 'NodePublishVolume', publishRequest('many', await target(node, 'm2'), fixture.root, multi))).code, status.OK);
});

test('a restarted plugin reloads its records and unpublishes cleanly', async (t) => {
  const fixture = await buildFixture();
  const node = await startTestPlugin(t);
  const ro = await target(node, 'ro');
  const rw = await target(node, 'rw');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-ro', ro, fixture.root));
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-rw', rw, fixture.root, { readonly: false }));
  const restarted = await node.restart();
  // Publishing again after the restart is still recognised as the same volume.
  await restarted.client.call('node', 'NodePublishVolume', publishRequest('vol-ro', ro, fixture.root));
  const stats = await restarted.client.call('node', 'NodeGetVolumeStats', { volume_id: 'vol-rw', volume_path: rw });
  t.deepEqual(stats.usage.map((u: { unit: string }) => u.unit), ['BYTES', 'INODES']);
  t.false(stats.volume_condition.abnormal);
  await restarted.client.call('node', 'NodeUnpublishVolume', { volume_id: 'vol-ro', target_path: ro });
  await restarted.client.call('node', 'NodeUnpublishVolume', { volume_id: 'vol-rw', target_path: rw });
  t.deepEqual(await mountsBelow(node.dir), []);
  t.deepEqual(await listState(restarted), { views: [], volumes: [], overlays: [] });
});

test('NodeGetVolumeStats: missing fields are INVALID_ARGUMENT, an unknown volume NOT_FOUND', async (t) => {
  const node = await startTestPlugin(t);
  t.is((await node.client.code('node', 'NodeGetVolumeStats', { volume_path: '/x' })).code, status.INVALID_ARGUMENT);
  t.is((await node.client.code('node', 'NodeGetVolumeStats', { volume_id: 'v' })).code, status.INVALID_ARGUMENT);
  t.is((await node.client.code('node', 'NodeGetVolumeStats', { volume_id: 'v', volume_path: join(node.dir, 'nothing') })).code, status.NOT_FOUND);
});

test('missing required fields are INVALID_ARGUMENT, checked before anything else', async (t) => {
  const node = await startTestPlugin(t);
  const tgt = join(node.dir, 't');
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ target_path: tgt, volume_capability: mountCapability() }, /volume_id is required/],
    [{ volume_id: 'v', volume_capability: mountCapability() }, /target_path is required/],
    [{ volume_id: 'v', target_path: tgt }, /volume_capability is required/],
  ];
  for (const [request, message] of cases) {
    const result = await node.client.code('node', 'NodePublishVolume', request);
    t.is(result.code, status.INVALID_ARGUMENT);
    t.regex(result.details, message);
  }
  t.is((await node.client.code('node', 'NodeUnpublishVolume', { target_path: tgt })).code, status.INVALID_ARGUMENT);
  t.is((await node.client.code('node', 'NodeUnpublishVolume', { volume_id: 'v' })).code, status.INVALID_ARGUMENT);
});

test('bad input is INVALID_ARGUMENT naming the problem and leaves nothing behind', async (t) => {
  const fixture = await buildFixture();
  const node = await startTestPlugin(t);
  const tgt = await target(node, 'bad');
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ volume_context: { paths: '/usr/bin' } }, /"\/usr\/bin" is not under \/nix\/store/],
    [{ volume_context: { paths: '/nix/store/../../etc' } }, /contains "\.\."/],
    [{ volume_context: { paths: '/nix/store/abc-short' } }, /not a well-formed store path/],
    [{ volume_context: { paths: fixture.root, colour: 'blue' } }, /unknown volume context key "colour"/],
    [{ volume_capability: { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } } }, /block access is not supported/],
    [{ volume_capability: mountCapability('UNKNOWN') }, /UNKNOWN is not a usable access mode/],
    [{ volume_capability: { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } } }, /fs_type: "ext4"/],
    [{ volume_capability: mountCapability('SINGLE_NODE_WRITER', ['suid']) }, /"suid" is not supported/],
    [{ target_path: 'relative/path' }, /must be an absolute path/],
  ];
  for (const [override, message] of cases) {
    const result = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-bad', tgt, fixture.root, override));
    t.is(result.code, status.INVALID_ARGUMENT, String(message));
    t.regex(result.details, message);
  }
  t.deepEqual(await listState(node), { views: [], volumes: [], overlays: [] });
  t.false(await exists(tgt));
  t.deepEqual(await mountsBelow(node.dir), []);
});

test('a well-formed store path that no store or cache has fails naming the path, leaving nothing', async (t) => {
  const node = await startTestPlugin(t);
  const tgt = await target(node, 'missing');
  const missing = '/nix/store/ffffffffffffffffffffffffffffffff-not-anywhere';
  const result = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-missing', tgt, missing));
  t.is(result.code, status.FAILED_PRECONDITION);
  t.regex(result.details, /ffffffffffffffffffffffffffffffff-not-anywhere/);
  t.deepEqual(await listState(node), { views: [], volumes: [], overlays: [] });
  t.false(await exists(tgt));
  t.deepEqual((await readdir(join(node.stateDir, 'views'))).filter((n) => n.startsWith('.')), [], 'no half-built view');
});

test('a view is built aside and renamed: a leftover half-built view is swept at start', async (t) => {
  const fixture = await buildFixture();
  const node = await startTestPlugin(t);
  await node.stop();
  const leftover = join(node.stateDir, 'views', '.building-deadbeef-0000');
  await mkdir(join(leftover, 'nix/store'), { recursive: true });
  const restarted = await node.restart();
  t.false(await exists(leftover));
  await restarted.client.call('node', 'NodePublishVolume', publishRequest('v', await target(node, 'after'), fixture.root));
  t.true((await lstat(join(node.dir, 'pods/after/mount/var/result'))).isSymbolicLink());
});
