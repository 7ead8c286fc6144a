import anyTest from 'ava';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { mountCapability } from '../helpers/csi-client.js';
import { mountOptionsAt, mountsBelow } from '../helpers/mounts.js';
import { buildFixture } from '../helpers/nix.js';
import { startTestPlugin, type TestPlugin } from '../helpers/plugin.js';
import { nodeCapabilities } from './requests.js';

// Serial, and a fixture of its own: plugins with separate state dirs share the host
// store's GC-root directory, and two of them rooting one view at once collide there.
const test = anyTest.serial;
const SALT = '-conformance-node';

function publish(volumeId: string, target: string, paths: string, mode = 'MULTI_NODE_READER_ONLY', readonly = true) {
  return { volume_id: volumeId, target_path: target, volume_capability: mountCapability(mode), readonly, volume_context: { paths } };
}

async function node(t: Parameters<typeof startTestPlugin>[0]): Promise<TestPlugin & { target: (name: string) => string }> {
  const plugin = await startTestPlugin(t);
  await mkdir(join(plugin.dir, 'pods'), { recursive: true });
  return { ...plugin, target: (name: string) => join(plugin.dir, 'pods', name) };
}

test('NodeGetInfo: a node id, and 0 (unlimited) volumes per node', async (t) => {
  const plugin = await node(t);
  const info = await plugin.client.call('node', 'NodeGetInfo', {});
  t.is(info.node_id, 'test-node');
  t.is(info.max_volumes_per_node, '0');
  const caps = await plugin.client.call('node', 'NodeGetCapabilities', {});
  t.deepEqual(caps.capabilities.map((c: { rpc: { type: string } }) => c.rpc.type), ['GET_VOLUME_STATS', 'VOLUME_CONDITION', 'SINGLE_NODE_MULTI_WRITER']);
});

test('NodePublishVolume: each missing required field is INVALID_ARGUMENT, checked before anything else', async (t) => {
  const plugin = await node(t);
  const full = publish('v', plugin.target('a'), '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-absent');
  for (const field of ['volume_id', 'target_path', 'volume_capability'] as const) {
    const result = await plugin.client.code('node', 'NodePublishVolume', { ...full, [field]: undefined });
    t.is(result.code, status.INVALID_ARGUMENT, field);
    t.regex(result.details, new RegExp(field), field);
  }
  t.deepEqual(await mountsBelow(plugin.dir), []);
});

test('NodePublishVolume: a closure no node store or cache has is FAILED_PRECONDITION, nothing left behind', async (t) => {
  const plugin = await node(t);
  const target = plugin.target('a');
  const result = await plugin.client.code('node', 'NodePublishVolume', publish('v', target, '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-absent'));
  t.is(result.code, status.FAILED_PRECONDITION);
  t.regex(result.details, /0123456789abcdfghijklmnpqrsvwxyz-absent/);
  t.deepEqual(await mountsBelow(plugin.dir), []);
  t.is(await stat(target).catch(() => 'gone'), 'gone');
  for (const dir of ['volumes', 'overlays']) t.deepEqual(await readdir(join(plugin.stateDir, dir)).catch(() => []), [], `no ${dir}`);
  t.deepEqual(await readdir(join(plugin.stateDir, 'views')), [], 'no view, not even a half-built one');
});

test('NodePublishVolume is idempotent; same target with other arguments is ALREADY_EXISTS', async (t) => {
  const fixture = await buildFixture(SALT);
  const other = await buildFixture(`${SALT}-other`);
  const plugin = await node(t);
  const target = plugin.target('a');
  // The orchestrator guarantees the parent; the plugin creates the target itself.
  t.is(await stat(target).catch(() => 'absent'), 'absent');
  await plugin.client.call('node', 'NodePublishVolume', publish('v', target, fixture.root));
  t.true((await stat(target)).isDirectory());
  t.is((await plugin.client.code('node', 'NodePublishVolume', publish('v', target, fixture.root))).code, status.OK);
  t.is((await plugin.client.code('node', 'NodePublishVolume', publish('v', target, other.root))).code, status.ALREADY_EXISTS);
  t.is((await plugin.client.code('node', 'NodePublishVolume', publish('v', target, fixture.root, 'MULTI_NODE_MULTI_WRITER', false))).code, status.ALREADY_EXISTS);
  t.is((await plugin.client.code('node', 'NodePublishVolume', publish('w', target, fixture.root))).code, status.ALREADY_EXISTS);
  t.deepEqual(await mountsBelow(target), [target]);
});

test('a second target: OK for multi-node and SINGLE_NODE_MULTI_WRITER, FAILED_PRECONDITION for single-writer modes', async (t) => {
  const fixture = await buildFixture(SALT);
  const plugin = await node(t);
  const cases: Array<[string, boolean, number]> = [
    ['MULTI_NODE_READER_ONLY', true, status.OK],
    ['MULTI_NODE_SINGLE_WRITER', false, status.OK],
    ['MULTI_NODE_MULTI_WRITER', false, status.OK],
    ['SINGLE_NODE_MULTI_WRITER', false, status.OK],
    ['SINGLE_NODE_READER_ONLY', true, status.OK],
    ['SINGLE_NODE_WRITER', false, status.FAILED_PRECONDITION],
    ['SINGLE_NODE_SINGLE_WRITER', false, status.FAILED_PRECONDITION],
  ];
  for (const [mode, readonly, second] of cases) {
    const volumeId = `vol-${mode}`;
    await plugin.client.call('node', 'NodePublishVolume', publish(volumeId, plugin.target(`${mode}-1`), fixture.root, mode, readonly));
    const result = await plugin.client.code('node', 'NodePublishVolume', publish(volumeId, plugin.target(`${mode}-2`), fixture.root, mode, readonly));
    t.is(result.code, second, mode);
  }
});

test('access modes: reader modes mount read-only even when readonly is false; writer modes get a private overlay', async (t) => {
  const fixture = await buildFixture(SALT);
  const plugin = await node(t);
  const reader = plugin.target('reader');
  await plugin.client.call('node', 'NodePublishVolume', publish('r', reader, fixture.root, 'SINGLE_NODE_READER_ONLY', false));
  t.true((await mountOptionsAt(reader))?.includes('ro'));
  const writerA = plugin.target('writer-a');
  const writerB = plugin.target('writer-b');
  await plugin.client.call('node', 'NodePublishVolume', publish('w', writerA, fixture.root, 'SINGLE_NODE_MULTI_WRITER', false));
  await plugin.client.call('node', 'NodePublishVolume', publish('w', writerB, fixture.root, 'SINGLE_NODE_MULTI_WRITER', false));
  await writeFile(join(writerA, 'var/scratch'), 'only in a');
  t.is(await stat(join(writerB, 'var/scratch')).catch(() => 'absent'), 'absent');
  const readonlyWriter = plugin.target('ro-writer');
  await plugin.client.call('node', 'NodePublishVolume', publish('x', readonlyWriter, fixture.root, 'SINGLE_NODE_WRITER', true));
  t.true((await mountOptionsAt(readonlyWriter))?.includes('ro'));
});

test('NodeUnpublishVolume: required fields INVALID_ARGUMENT; not mounted OK; removes the target; idempotent', async (t) => {
  const fixture = await buildFixture(SALT);
  const plugin = await node(t);
  const target = plugin.target('a');
  t.is((await plugin.client.code('node', 'NodeUnpublishVolume', { target_path: target })).code, status.INVALID_ARGUMENT);
  t.is((await plugin.client.code('node', 'NodeUnpublishVolume', { volume_id: 'v' })).code, status.INVALID_ARGUMENT);
  t.is((await plugin.client.code('node', 'NodeUnpublishVolume', { volume_id: 'v', target_path: target })).code, status.OK);
  await plugin.client.call('node', 'NodePublishVolume', publish('v', target, fixture.root));
  // The target holds another volume: this one is not there, and nothing is unmounted.
  t.is((await plugin.client.code('node', 'NodeUnpublishVolume', { volume_id: 'w', target_path: target })).code, status.NOT_FOUND);
  t.deepEqual(await mountsBelow(target), [target]);
  t.is((await plugin.client.code('node', 'NodeUnpublishVolume', { volume_id: 'v', target_path: target })).code, status.OK);
  t.deepEqual(await mountsBelow(plugin.dir), []);
  t.is(await stat(target).catch(() => 'gone'), 'gone');
  t.is((await plugin.client.code('node', 'NodeUnpublishVolume', { volume_id: 'v', target_path: target })).code, status.OK);
});

test('NodeGetVolumeStats: required fields INVALID_ARGUMENT; unknown volume or wrong path NOT_FOUND', async (t) => {
  const fixture = await buildFixture(SALT);
  const plugin = await node(t);
  const target = plugin.target('a');
  t.is((await plugin.client.code('node', 'NodeGetVolumeStats', { volume_path: target })).code, status.INVALID_ARGUMENT);
  t.is((await plugin.client.code('node', 'NodeGetVolumeStats', { volume_id: 'v' })).code, status.INVALID_ARGUMENT);
  t.is((await plugin.client.code('node', 'NodeGetVolumeStats', { volume_id: 'v', volume_path: target })).code, status.NOT_FOUND);
  await plugin.client.call('node', 'NodePublishVolume', publish('v', target, fixture.root));
  t.is((await plugin.client.code('node', 'NodeGetVolumeStats', { volume_id: 'v', volume_path: plugin.target('other') })).code, status.NOT_FOUND);
  // csi-sanity's row: a relative path holds no volume (NOT_FOUND); it never resolves against the plugin's working directory.
  t.is((await plugin.client.code('node', 'NodeGetVolumeStats', { volume_id: 'v', volume_path: 'some/path' })).code, status.NOT_FOUND);
  t.is((await plugin.client.code('node', 'NodeGetVolumeStats', { volume_id: 'other', volume_path: target })).code, status.NOT_FOUND);
  const stats = await plugin.client.call('node', 'NodeGetVolumeStats', { volume_id: 'v', volume_path: target });
  t.deepEqual(stats.usage.map((u: { unit: string }) => u.unit), ['BYTES', 'INODES']);
  t.false(stats.volume_condition.abnormal);
});

test('staging: UNIMPLEMENTED unless STAGE_UNSTAGE_VOLUME is advertised; then required fields and "not staged" rows', async (t) => {
  const plugin = await node(t);
  const staging = join(plugin.dir, 'staging');
  const capability = mountCapability('MULTI_NODE_READER_ONLY');
  if (!(await nodeCapabilities(plugin)).includes('STAGE_UNSTAGE_VOLUME')) {
    t.is((await plugin.client.code('node', 'NodeStageVolume', { volume_id: 'v', staging_target_path: staging, volume_capability: capability })).code, status.UNIMPLEMENTED);
    t.is((await plugin.client.code('node', 'NodeUnstageVolume', { volume_id: 'v', staging_target_path: staging })).code, status.UNIMPLEMENTED);
    return;
  }
  t.is((await plugin.client.code('node', 'NodeStageVolume', { staging_target_path: staging, volume_capability: capability })).code, status.INVALID_ARGUMENT);
  t.is((await plugin.client.code('node', 'NodeStageVolume', { volume_id: 'v', volume_capability: capability })).code, status.INVALID_ARGUMENT);
  t.is((await plugin.client.code('node', 'NodeStageVolume', { volume_id: 'v', staging_target_path: staging })).code, status.INVALID_ARGUMENT);
  t.is((await plugin.client.code('node', 'NodeUnstageVolume', { staging_target_path: staging })).code, status.INVALID_ARGUMENT);
  t.is((await plugin.client.code('node', 'NodeUnstageVolume', { volume_id: 'v' })).code, status.INVALID_ARGUMENT);
  t.is((await plugin.client.code('node', 'NodeUnstageVolume', { volume_id: 'v', staging_target_path: staging })).code, status.OK);
});

test('NodeExpandVolume is UNIMPLEMENTED (not advertised)', async (t) => {
  const plugin = await node(t);
  t.false((await nodeCapabilities(plugin)).includes('EXPAND_VOLUME'));
  t.is((await plugin.client.code('node', 'NodeExpandVolume', { volume_id: 'v', volume_path: '/x' })).code, status.UNIMPLEMENTED);
});

test('a 128-byte volume id and a 4 KiB volume context are accepted', async (t) => {
  const fixture = await buildFixture(SALT);
  const plugin = await node(t);
  const target = plugin.target('long');
  const paths = Array.from({ length: Math.floor(4000 / (fixture.root.length + 1)) }, () => fixture.root).join(' ');
  await plugin.client.call('node', 'NodePublishVolume', publish('v'.repeat(128), target, paths));
  t.deepEqual(await mountsBelow(target), [target]);
  await plugin.client.call('node', 'NodeUnpublishVolume', { volume_id: 'v'.repeat(128), target_path: target });
});
