import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { cp, lstat, mkdir, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readMountInfo } from '../../src/platform/mountinfo.js';
import { buildFixture } from '../helpers/nix.js';
import { mountsBelow, unmountBelow } from '../helpers/mounts.js';
import { startServeProcess } from '../helpers/serve-process.js';
import { publishRequest, storeOf } from '../helpers/sources.js';
import { tempDir } from '../helpers/temp.js';

// Bind-farm views through a real serve process, real Nix and real mounts: a read-only
// volume's view is one read-only bind per store path; read-write volumes and a closure
// over the mount budget get hardlink views. Serial: each test counts mounts.

async function serve(t: ExecutionContext, extra: string[] = []) {
  const dir = await tempDir(t);
  const socket = join(dir, 'csi.sock');
  const stateDir = join(dir, 'state');
  const node = await startServeProcess(['--endpoint', `unix://${socket}`, '--state-dir', stateDir, '--node-id', 'n', '--view-idle', '0', ...extra], socket);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    node.client.close();
    node.child.kill('SIGKILL');
    await node.child;
  };
  t.teardown(async () => {
    await stop();
    await unmountBelow(dir);
  });
  const publish = async (id: string, name: string, root: string, readonly = true) => {
    const target = join(dir, 'pods', name, 'mount');
    await mkdir(join(dir, 'pods', name), { recursive: true });
    await node.client.call('node', 'NodePublishVolume', { ...publishRequest(id, target, { paths: root }), readonly });
    return target;
  };
  const unpublish = (id: string, target: string) => node.client.call('node', 'NodeUnpublishVolume', { volume_id: id, target_path: target });
  const args = ['--endpoint', `unix://${socket}`, '--state-dir', stateDir, '--node-id', 'n', '--view-idle', '0', ...extra];
  /** Another serve on the same state dir and socket (after `stop`), stopped at the end of the test. */
  const restart = async () => {
    const again = await startServeProcess(args, socket);
    t.teardown(async () => {
      again.client.close();
      again.child.kill('SIGKILL');
      await again.child;
    });
    return again;
  };
  return { dir, stateDir, node, publish, unpublish, stop, restart };
}

const mountPointsBelow = async (dir: string) => (await readMountInfo()).filter((entry) => entry.mountPoint.startsWith(`${dir}/`));

/** Every regular file below `dir`, relative to it. */
async function files(dir: string, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) found.push(...(await files(dir, path)));
    else if (entry.isFile()) found.push(path);
  }
  return found;
}

/** Each file below the target is the store's own inode (an overlay reports its own device, so there the inode number alone). */
async function sharesInodes(t: ExecutionContext, target: string, closure: readonly string[], overlay = false): Promise<number> {
  let count = 0;
  for (const path of closure) {
    const name = path.slice('/nix/store/'.length);
    const inStore = (await lstat(path)).isDirectory() ? await files(path) : [''];
    for (const file of inStore) {
      const [mine, store] = await Promise.all([lstat(join(target, 'store', name, file)), lstat(join(path, file))]);
      t.is(overlay ? mine.ino : `${mine.dev}:${mine.ino}`, overlay ? store.ino : `${store.dev}:${store.ino}`, `${name}/${file} is the store's own inode`);
      count++;
    }
  }
  return count;
}

const writeError = async (path: string) => (await execa('touch', [path], { reject: false })).stderr;

test.serial('a read-only volume is a bind farm: one read-only bind per store path, the store\'s own inodes, nothing writable; unpublish leaves no mount', async (t) => {
  const fixture = await buildFixture('-bind-farm');
  const node = await serve(t);
  const target = await node.publish('v1', 'a', fixture.root);
  t.deepEqual(await storeOf(target), fixture.closure);
  const below = await mountPointsBelow(target);
  t.deepEqual(
    below.map((entry) => entry.mountPoint).sort(),
    [join(target, 'store'), ...fixture.closure.map((path) => join(target, 'store', path.slice('/nix/store/'.length)))].sort(),
    'one mount per store path below the target, in the farm\'s read-only store directory',
  );
  for (const entry of below) t.true(['ro', 'nosuid', 'nodev'].every((flag) => entry.options.includes(flag)), `${entry.mountPoint}: ${entry.options.join(',')}`);
  t.true((await sharesInodes(t, target, fixture.closure)) > 0);
  const [name] = fixture.closure.map((path) => path.slice('/nix/store/'.length));
  t.regex(await writeError(join(target, 'store', name!, 'new-file')), /Read-only file system/);
  t.regex(await writeError(join(target, 'store', 'new-path')), /Read-only file system/);
  t.regex(await writeError(join(target, 'new-file')), /Read-only file system/);
  // The volume still gets the Nix database that registers exactly its closure.
  // Read from a copy: Nix opens its database for writing, and the volume is read-only.
  const copy = join(node.dir, 'db-copy');
  await cp(join(target, 'var/nix'), copy, { recursive: true });
  const dump = await execa('nix-store', ['--dump-db'], { env: { ...process.env, NIX_STATE_DIR: copy }, reject: false });
  t.is(dump.exitCode, 0, dump.stderr);
  const registered = [...dump.stdout.matchAll(/^(\/nix\/store\/[^\n]+)\n/gm)].map((match) => match[1]!).filter((path) => fixture.closure.includes(path));
  t.deepEqual([...new Set(registered)].sort(), fixture.closure);
  const views = (await readdir(join(node.stateDir, 'views'))).filter((entry) => !entry.startsWith('.'));
  t.is(views.length, 1);
  t.true((await stat(join(node.stateDir, 'views', views[0]!, 'bind-farm'))).isFile(), 'the view is marked a bind farm');

  await node.unpublish('v1', target);
  t.deepEqual(await mountsBelow(node.dir), [], 'no mount left: not at the target, not in the view, not the kept tree');
  t.deepEqual(await readdir(join(node.stateDir, 'views')), [], 'the view was collected (--view-idle 0)');
});

test.serial('the state dir\'s files removed under a live read-only volume: the next publish makes the farm whole in place, the live one keeps reading', async (t) => {
  const fixture = await buildFixture('-bind-farm');
  const node = await serve(t);
  const live = await node.publish('v1', 'a', fixture.root);
  const [key] = (await readdir(join(node.stateDir, 'views'))).filter((entry) => !entry.startsWith('.'));
  const view = join(node.stateDir, 'views', key!);
  // What `rm -rf <state dir>` in the node's own namespace leaves the plugin: every file and
  // every directory that is no mount point there (the farm's store directories are, as the
  // mount points of the live volume's copies), and the kept bind, which the kernel detaches
  // when its directory goes in another namespace. Done here by hand, in the plugin's namespace.
  await execa('umount', ['--lazy', join(node.stateDir, '.mounting', key!)]);
  await execa('rm', ['-rf', join(node.stateDir, '.mounting'), join(node.stateDir, 'volumes'), join(view, 'bind-farm'), join(view, 'nix/var')]);

  const again = await node.publish('v2', 'b', fixture.root);
  t.deepEqual(await storeOf(again), fixture.closure, 'the new volume shows the whole closure');
  t.deepEqual(
    (await mountPointsBelow(again)).map((entry) => entry.mountPoint).sort(),
    [join(again, 'store'), ...fixture.closure.map((path) => join(again, 'store', path.slice('/nix/store/'.length)))].sort(),
    'the new volume is the farm\'s tree again, one bind per store path',
  );
  t.true((await sharesInodes(t, again, fixture.closure)) > 0);
  t.true((await lstat(join(again, 'var/nix/db/db.sqlite'))).isFile(), 'its Nix database is back');
  t.is(await readlink(join(again, 'var/result')).catch(() => 'no result'), fixture.root, 'nix/var/result names the root again');
  t.true((await stat(join(view, 'bind-farm'))).isFile(), 'the view is marked a bind farm again');
  t.deepEqual(await storeOf(live), fixture.closure, 'the live volume still shows its closure');
  t.true((await sharesInodes(t, live, fixture.closure)) > 0);

  await node.unpublish('v2', again);
  await node.unpublish('v1', live);
  t.deepEqual(await mountsBelow(join(node.dir, 'pods')), [], 'both volumes unmounted, the one whose record was removed too');
});

test.serial('a read-write volume of the same closure gets a hardlink view of its own (an overlay lower does not reach into mounts)', async (t) => {
  const fixture = await buildFixture('-bind-farm');
  const node = await serve(t);
  const ro = await node.publish('ro', 'ro', fixture.root);
  const rw = await node.publish('rw', 'rw', fixture.root, false);
  t.deepEqual(await storeOf(rw), fixture.closure);
  t.deepEqual((await mountPointsBelow(rw)).map((entry) => entry.mountPoint), [], 'nothing mounted below the overlay');
  await sharesInodes(t, rw, fixture.closure, true);
  const views = (await readdir(join(node.stateDir, 'views'))).filter((entry) => !entry.startsWith('.'));
  t.is(views.length, 2, 'a bind farm and a hardlink view');
  await node.unpublish('rw', rw);
  await node.unpublish('ro', ro);
  t.deepEqual(await mountsBelow(node.dir), []);
});

test.serial('over the mount budget (a tiny fs.mount-max) a read-only volume falls back to hardlinks, and says so', async (t) => {
  const fixture = await buildFixture('-bind-farm');
  const dir = await tempDir(t);
  const mountMax = join(dir, 'mount-max');
  // What is mounted now plus less than the headroom: no farm fits.
  await writeFile(mountMax, `${(await readMountInfo()).length + 50}\n`);
  const node = await serve(t, ['--mount-max-file', mountMax]);
  const target = await node.publish('v1', 'a', fixture.root);
  t.deepEqual(await storeOf(target), fixture.closure);
  t.deepEqual((await mountPointsBelow(target)).map((entry) => entry.mountPoint), [], 'a hardlink view: nothing mounted below the target');
  await sharesInodes(t, target, fixture.closure);
  const views = (await readdir(join(node.stateDir, 'views'))).filter((entry) => !entry.startsWith('.'));
  t.false(await stat(join(node.stateDir, 'views', views[0]!, 'bind-farm')).then(() => true, () => false));
  await node.unpublish('v1', target);
  await node.stop();
  const stderr = String((await node.node.child).stderr);
  t.regex(stderr, /a bind farm would exceed the mount budget; the volume gets a hardlink view/);
  t.deepEqual(await mountsBelow(node.dir), []);
});

test.serial('--view-mode hardlink: read-only volumes keep hardlink views', async (t) => {
  const fixture = await buildFixture('-bind-farm');
  const node = await serve(t, ['--view-mode', 'hardlink']);
  const target = await node.publish('v1', 'a', fixture.root);
  t.deepEqual((await mountPointsBelow(target)).map((entry) => entry.mountPoint), []);
  await sharesInodes(t, target, fixture.closure);
  await node.unpublish('v1', target);
  t.deepEqual(await mountsBelow(node.dir), []);
});

test.serial('killed (SIGKILL) with a bind farm half made, a restarted serve unmounts it and the retried publish succeeds; nothing is left', async (t) => {
  const fixture = await buildFixture('-bind-farm');
  const node = await serve(t);
  const views = join(node.stateDir, 'views');
  // A farm half made, as a kill between two binds leaves it: a .building- dir with its marker and some binds.
  const building = join(views, `.building-${'c'.repeat(32)}-0badc0de`);
  await mkdir(join(building, 'nix/store'), { recursive: true });
  const storeDir = '/nix/store';
  await writeFile(join(building, 'bind-farm'), `${JSON.stringify({ storeDir })}\n`);
  const [first, second] = fixture.closure;
  for (const path of [first!, second!]) {
    const point = join(building, 'nix/store', path.slice(storeDir.length + 1));
    await mkdir(point);
    await execa('mount', ['-o', 'bind,ro,nosuid,nodev', path, point]);
  }
  t.is((await mountPointsBelow(building)).length, 2);
  await node.stop();
  const again = await node.restart();
  t.deepEqual(await mountsBelow(node.dir), [], 'the restart unmounted the half-made farm');
  t.false(await stat(building).then(() => true, () => false), 'and removed its directory');
  const target = join(node.dir, 'pods', 'b', 'mount');
  await mkdir(join(node.dir, 'pods', 'b'), { recursive: true });
  await again.client.call('node', 'NodePublishVolume', publishRequest('v2', target, { paths: fixture.root }));
  t.deepEqual(await storeOf(target), fixture.closure);
  await again.client.call('node', 'NodeUnpublishVolume', { volume_id: 'v2', target_path: target });
  t.deepEqual(await mountsBelow(node.dir), []);
});

test.serial('a half-made farm holding a mount it cannot prove its own is left in place, never descended into', async (t) => {
  const node = await serve(t);
  await node.stop();
  const views = join(node.stateDir, 'views');
  const building = join(views, `.building-${'d'.repeat(32)}-0badc0de`);
  const foreign = join(building, 'nix/store', `${'e'.repeat(32)}-x`);
  await mkdir(foreign, { recursive: true });
  await writeFile(join(building, 'bind-farm'), `${JSON.stringify({ storeDir: '/nix/store' })}\n`);
  // Someone else's tmpfs where a farm bind would be: not from the store, so not ours.
  await execa('mount', ['-t', 'tmpfs', 'someone', foreign]);
  await writeFile(join(foreign, 'precious'), 'keep me\n');
  await node.restart();
  t.is(await readFile(join(foreign, 'precious'), 'utf8'), 'keep me\n');
  t.deepEqual((await mountPointsBelow(building)).map((entry) => entry.fsType), ['tmpfs']);
});
