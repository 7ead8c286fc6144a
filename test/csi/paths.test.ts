import test from 'ava';
import { access, lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { defaultProtectedDirs } from '../../src/adapters/common/paths.js';
import { LocalAdapter } from '../../src/adapters/local/local-adapter.js';
import { readMountInfo } from '../../src/platform/mountinfo.js';
import { mountCapability } from '../helpers/csi-client.js';
import { mountsBelow } from '../helpers/mounts.js';
import { buildFixture } from '../helpers/nix.js';
import { startTestPlugin, type TestPlugin } from '../helpers/plugin.js';
import { tempDir } from '../helpers/temp.js';

const SALT = '-edge-paths';

function publish(volumeId: string, target: string, paths: string, mode = 'SINGLE_NODE_WRITER') {
  return { volume_id: volumeId, target_path: target, volume_capability: mountCapability(mode), readonly: true, volume_context: { paths } };
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

async function records(node: TestPlugin): Promise<string[]> {
  return (await readdir(join(node.stateDir, 'volumes')).catch(() => [] as string[])).filter((name) => !name.startsWith('.'));
}

/** A plugin whose local adapter protects its state dir and the store, as `nixmount serve` builds it. */
async function protectedNode(t: import('ava').ExecutionContext): Promise<TestPlugin> {
  const stateDir = join(await tempDir(t), 'state');
  return startTestPlugin(t, { stateDir, adapter: new LocalAdapter('test-node', { protectedDirs: defaultProtectedDirs(stateDir, '/') }) });
}

async function mountPoints(): Promise<string[]> {
  return (await readMountInfo()).map((entry) => entry.mountPoint);
}

// Findings 3 and 4: the local adapter took /etc, a symlink to it, store paths and its own state dir.
test('local: /etc, a symlink to /etc, a store path, a new dir in the store and <state>/volumes are INVALID_ARGUMENT; nothing mounted or created', async (t) => {
  const fixture = await buildFixture(SALT);
  const node = await protectedNode(t);
  await mkdir(join(node.dir, 'pods'));
  const link = join(node.dir, 'pods', 'etc-link');
  await symlink('/etc', link);
  await mkdir(join(node.stateDir, 'volumes'), { recursive: true });
  const before = await mountPoints();
  const newInStore = '/nix/store/edge-test-new-dir';
  const cases: Array<[string, RegExp]> = [
    ['/etc', /target_path: "\/etc" is a system directory/],
    ['/etc/nixmount-x', /inside "\/etc", which belongs to the system/],
    [link, /goes through the symlink ".*etc-link"/],
    [join(link, 'sub'), /goes through the symlink ".*etc-link"/],
    [fixture.root, /inside the Nix store/],
    [newInStore, /inside the Nix store/],
    ['/nix/var/nixmount-x', /inside "\/nix"/],
    [join(node.stateDir, 'volumes'), /which nixmount protects/],
    [node.stateDir, /which nixmount protects/],
    [join(node.stateDir, 'views', 'x'), /which nixmount protects/],
    ['/dev/null', /inside "\/dev", which belongs to the system/],
    ['/', /is a system directory/],
  ];
  for (const [target, message] of cases) {
    const result = await node.client.code('node', 'NodePublishVolume', publish(`v-${cases.findIndex((c) => c[0] === target)}`, target, fixture.root));
    t.is(result.code, status.INVALID_ARGUMENT, target);
    t.regex(result.details, message, target);
  }
  // Other processes may mount meanwhile: only new mounts where these requests pointed count.
  const added = (await mountPoints()).filter((point) => !before.includes(point));
  t.deepEqual(added.filter((point) => ['/etc', '/nix', '/dev', node.dir, node.stateDir].some((base) => point === base || point.startsWith(`${base}/`))), []);
  t.false(await exists(newInStore));
  t.deepEqual(await records(node), []);
  t.deepEqual(await readdir(join(node.stateDir, 'volumes')), []);
  // The state dir keeps working: a publish elsewhere succeeds and leaves its record.
  await node.client.call('node', 'NodePublishVolume', publish('ok', join(node.dir, 'pods', 'ok'), fixture.root));
  t.is((await records(node)).length, 1);
});

// Finding 3: unpublish removed any empty directory, resolved relative paths, and checked nothing.
test('unpublish and stats check paths too: relative, system and protected paths are INVALID_ARGUMENT for unpublish, a symlinked one with no record OK (nothing of ours there, nothing followed), all NOT_FOUND for stats, and nothing is removed', async (t) => {
  const node = await protectedNode(t);
  await mkdir(join(node.stateDir, 'volumes'), { recursive: true });
  const outside = await tempDir(t);
  const victim = join(outside, 'victim');
  await mkdir(victim);
  const link = join(node.dir, 'link');
  await symlink(outside, link);
  for (const target of ['victim', '/srv', '/etc/ssl', join(node.stateDir, 'volumes'), join(link, 'victim'), './victim']) {
    const unpublish = await node.client.code('node', 'NodeUnpublishVolume', { volume_id: 'x', target_path: target });
    // A path through a symlink is an unpublish CSI asks to be OK when repeated: no record, and every mount of ours placed.
    t.is(unpublish.code, target === join(link, 'victim') ? status.OK : status.INVALID_ARGUMENT, `${target}: ${unpublish.details}`);
    const stats = await node.client.code('node', 'NodeGetVolumeStats', { volume_id: 'x', volume_path: target });
    t.is(stats.code, status.NOT_FOUND, target); // no volume can be there; the reason stays in the message
  }
  t.true(await exists(victim));
  t.true(await exists('/srv'));
  t.true(await exists(join(node.stateDir, 'volumes')));
});

// Finding 5: `t/e/` and `t/e`, `t//d/` and `t/d` were different volumes on one directory.
test('a target with a trailing slash or a doubled slash is the same volume as its canonical form', async (t) => {
  const fixture = await buildFixture(SALT);
  const node = await startTestPlugin(t);
  const pods = join(node.dir, 't');
  await mkdir(pods);
  const e = join(pods, 'e');
  await node.client.call('node', 'NodePublishVolume', publish('vol-e', `${e}/`, fixture.root));
  t.is((await node.client.code('node', 'NodePublishVolume', publish('vol-e', e, fixture.root))).code, status.OK);
  t.is((await node.client.code('node', 'NodePublishVolume', publish('other', `${pods}//e`, fixture.root))).code, status.ALREADY_EXISTS);
  t.deepEqual(await mountsBelow(e), [e]);
  t.is((await records(node)).length, 1);

  const d = join(pods, 'd');
  await node.client.call('node', 'NodePublishVolume', publish('vol-d', `${pods}//d/`, fixture.root));
  t.deepEqual(await mountsBelow(d), [d]);
  const stats = await node.client.call('node', 'NodeGetVolumeStats', { volume_id: 'vol-d', volume_path: `${d}/` });
  t.false(stats.volume_condition.abnormal);
  await node.client.call('node', 'NodeUnpublishVolume', { volume_id: 'vol-d', target_path: d });
  await node.client.call('node', 'NodeUnpublishVolume', { volume_id: 'vol-e', target_path: `${pods}//e//` });
  t.deepEqual(await mountsBelow(node.dir), []);
  t.deepEqual(await records(node), []);
  t.false(await exists(d));
  t.false(await exists(e));
});

// Finding 6 (the lock half): the in-flight guard keyed on volume id + target.
test('two volume ids racing for one target: never both succeed, one mount, one record', async (t) => {
  const fixture = await buildFixture(SALT);
  const node = await startTestPlugin(t);
  await mkdir(join(node.dir, 'pods'));
  const target = join(node.dir, 'pods', 'race');
  for (let round = 0; round < 3; round++) {
    const results = await Promise.all([
      node.client.code('node', 'NodePublishVolume', publish('a', target, fixture.root)),
      node.client.code('node', 'NodePublishVolume', publish('b', `${target}/`, fixture.root)),
    ]);
    const codes = results.map((r) => r.code);
    // After the first round "a" holds the target: its repeat is OK (idempotent), "b" never is.
    t.is(codes.filter((code) => code === status.OK).length, 1, JSON.stringify(results));
    t.true(codes.every((code) => [status.OK, status.ABORTED, status.ALREADY_EXISTS].includes(code)), JSON.stringify(results));
    t.deepEqual(await mountsBelow(target), [target]);
    t.is((await records(node)).length, 1);
  }
});

// Finding 12: NUL, over-long names, a file as target answered INTERNAL.
test('NUL in target_path, a 300-byte name and a file as target are client errors, never INTERNAL; the file is untouched', async (t) => {
  const fixture = await buildFixture(SALT);
  const node = await startTestPlugin(t);
  await mkdir(join(node.dir, 'pods'));
  const file = join(node.dir, 'pods', 'file');
  await writeFile(file, 'keep\n');
  const cases: Array<[string, number, RegExp]> = [
    [join(node.dir, 'pods', 'a\0b'), status.INVALID_ARGUMENT, /target_path: ".*a\\u0000b" contains a NUL byte/],
    [join(node.dir, 'pods', 'n'.repeat(300)), status.INVALID_ARGUMENT, /longer than the limit of 255 bytes \(NAME_MAX\)/],
    [file, status.FAILED_PRECONDITION, /".*file" exists and is not a directory/],
    [join(file, 'below'), status.FAILED_PRECONDITION, /".*file" exists and is not a directory; a path cannot go through a file/],
  ];
  for (const [target, code, message] of cases) {
    for (const [method, request] of [
      ['NodePublishVolume', publish('v', target, fixture.root)],
      ['NodeUnpublishVolume', { volume_id: 'v', target_path: target }],
      ['NodeGetVolumeStats', { volume_id: 'v', volume_path: target }],
    ] as const) {
      const result = await node.client.code('node', method, request);
      // Stats of a path no volume can be at is NOT_FOUND (as csi-sanity expects), the reason kept.
      t.is(result.code, method === 'NodeGetVolumeStats' ? status.NOT_FOUND : code, `${method} ${JSON.stringify(target)}`);
      t.regex(result.details, message);
    }
  }
  t.is(await readFile(file, 'utf8'), 'keep\n');
  t.deepEqual(await mountsBelow(node.dir), []);
  t.deepEqual(await records(node), []);
  await t.throwsAsync(access(join(node.dir, 'pods', 'a')));
});

test('protected dirs: the state dir as given and through its realpath, what would hide it, and a chroot store root', async (t) => {
  const dir = await tempDir(t);
  const real = join(dir, 'real-state');
  await mkdir(real);
  const link = join(dir, 'state-link');
  await symlink(real, link);
  const storeRoot = join(dir, 'chroot');
  const adapter = new LocalAdapter('n', { protectedDirs: defaultProtectedDirs(link, storeRoot) });
  for (const target of [join(real, 'volumes'), real, join(link, 'volumes'), dir, join(storeRoot, 'nix/store/x'), join(storeRoot, 'nix')]) {
    t.throws(() => adapter.checkTargetPath(target), { message: /nixmount protects|symlink/ }, target);
  }
  t.is(adapter.checkTargetPath(`${dir}//pods/a/`), join(dir, 'pods/a'));
  t.is(adapter.checkTargetPath(join(storeRoot, 'other')), join(storeRoot, 'other'));
  t.deepEqual(defaultProtectedDirs('/var/lib/nixmount/', '/'), ['/var/lib/nixmount', '/nix', '/nix']);
});

test('a staging_target_path sent to an adapter that does not stage is INVALID_ARGUMENT naming it; nothing mounted, created or recorded', async (t) => {
  const fixture = await buildFixture(SALT);
  const node = await startTestPlugin(t);
  await mkdir(join(node.dir, 'pods'));
  const target = join(node.dir, 'pods', 'v');
  const staging = join(node.dir, 'staging', 'v');
  const result = await node.client.code('node', 'NodePublishVolume', { ...publish('v', target, fixture.root), staging_target_path: staging });
  t.is(result.code, status.INVALID_ARGUMENT);
  t.is(
    result.details,
    `staging_target_path: ${JSON.stringify(staging)} was sent, but the local adapter does not stage volumes (this plugin does not advertise STAGE_UNSTAGE_VOLUME); publish without one`,
  );
  t.deepEqual(await mountsBelow(node.dir), []);
  t.deepEqual(await records(node), []);
  t.false(await exists(target));
});
