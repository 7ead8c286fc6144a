import test, { type ExecutionContext } from 'ava';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { CsiClient, mountCapability } from '../../helpers/csi-client.js';
import { MountNamespace } from '../../helpers/crash-namespace.js';
import { ServeNode } from '../../helpers/crash-serve.js';
import { CrashWrappers, type CommandMoment } from '../../helpers/crash-wrappers.js';
import { mountsBelow } from '../../helpers/mounts.js';
import { buildFixture, nixEnv, type Fixture } from '../../helpers/nix.js';
import { startGatedCache } from '../../helpers/gated-cache.js';
import { CLI, startServeProcess } from '../../helpers/serve-process.js';
import { tempDir } from '../../helpers/temp.js';
import { goJson, OPERATION_TIMEOUT_MS } from './nomad-host-client.js';
import { START_BY_MS } from '../../../src/adapters/nomad-host/host-volume-deadlines.js';
import { assertClosureAt, volumeMountsBelow, assertFailed, assertNothingLeft, assertOk, entries, exists, node, request, type Node } from './host-volume-node.js';

/**
 * The host volume plugin next to a running `nixmount serve` on ONE state dir: serve owns
 * the dir (its lock, records, leases and views in memory), so the plugin's create and
 * delete run in serve, over the private socket in the state dir; without serve they run
 * in the plugin's own process. Serial: real serve processes, Nix and mounts.
 */

async function startServe(t: ExecutionContext, n: Node, nixArgs: string[] = ['--substituters', '']) {
  const socket = join(n.dir, 'csi.sock');
  const args = ['--endpoint', `unix://${socket}`, '--state-dir', n.stateDir, '--node-id', 'hostvol-serve', '--view-idle', '0', ...nixArgs];
  const started = await startServeProcess(args, socket);
  t.teardown(() => {
    started.client.close();
    started.child.kill('SIGKILL');
  });
  return {
    ...started,
    async stop() {
      started.client.close();
      started.child.kill('SIGTERM');
      t.is((await started.child).exitCode, 0, 'serve stopped cleanly');
    },
  };
}

async function ownerPid(n: Node): Promise<number | undefined> {
  const text = await readFile(join(n.stateDir, 'owner.pid'), 'utf8').catch(() => '');
  return text ? Number(text.trim()) : undefined;
}

function inVolume(path: string, fixture: Fixture): string {
  const data = fixture.closure.find((p) => p.includes('fixture-data'))!;
  return join(path, 'store', data.slice('/nix/store/'.length), 'share/greeting');
}

test.serial('serve running: a closure published by CSI and then by a host volume has ONE view (same inodes); the plugin never takes serve\'s lock; deletes leave nothing', async (t) => {
  const fixture = await buildFixture('hostvol-serve');
  const n = await node(t);
  const serve = await startServe(t, n);
  const views = () => entries(join(n.stateDir, 'views'));
  const records = () => entries(join(n.stateDir, 'volumes'));

  await mkdir(join(n.dir, 'pod'));
  const podTarget = join(n.dir, 'pod/mount');
  await serve.client.call('node', 'NodePublishVolume', { volume_id: 'csi-v', target_path: podTarget, volume_capability: mountCapability(), readonly: true, volume_context: { paths: fixture.root } });
  const built = await views();
  t.is(built.length, 1);

  const req = request({ paths: fixture.root });
  const path = join(n.volumesDir, req.id);
  const created = await n.client.create(req);
  assertOk(t, created);
  t.deepEqual(created.json, { path, bytes: 0 });
  t.is(await ownerPid(n), serve.child.pid, 'serve still owns the state dir');
  t.deepEqual(await views(), built, 'the view CSI built, reused: one view per closure');
  t.is((await records()).length, 2, 'serve\'s record and the host volume\'s, in serve\'s records');
  await assertClosureAt(t, n, path, fixture);
  const [csiFile, hostFile] = await Promise.all([stat(inVolume(podTarget, fixture)), stat(inVolume(path, fixture))]);
  t.is(hostFile.ino, csiFile.ino, 'the same inode through the CSI volume and the host volume');
  t.is(hostFile.dev, csiFile.dev);

  // Nomad's retry, and its create of every volume at agent start: the same answer from serve.
  const again = await n.client.create(req);
  assertOk(t, again);
  t.deepEqual(again.json, created.json);

  // A bad volume is refused by serve as by the plugin: one line, nothing made.
  const bad = request({ paths: '/usr/bin' });
  assertFailed(t, await n.client.create(bad), /paths: "\/usr\/bin" is not under \/nix\/store\//);
  t.false(await exists(join(n.volumesDir, bad.id)));

  assertOk(t, await n.client.delete(req, path));
  t.false(await exists(path), 'the host volume\'s directory is gone');
  t.is((await records()).length, 1);
  t.deepEqual(await views(), built, 'still held by the CSI volume');
  assertOk(t, await n.client.delete(req, path)); // again: nothing to do

  await serve.client.call('node', 'NodeUnpublishVolume', { volume_id: 'csi-v', target_path: podTarget });
  t.deepEqual(await views(), [], 'serve collects the view with its last holder (view-idle 0)');
  await serve.stop();
  await assertNothingLeft(t, n);
});

test.serial('serve down: the plugin does the work itself; a serve started later takes the host volume\'s record over and answers its delete', async (t) => {
  const fixture = await buildFixture('hostvol-serve');
  const n = await node(t);
  const req = request({ paths: fixture.root });
  const path = join(n.volumesDir, req.id);
  assertOk(t, await n.client.create(req));
  t.is(await ownerPid(n), undefined, 'the plugin released the state dir');
  await assertClosureAt(t, n, path, fixture);

  const serve = await startServe(t, n);
  t.is((await entries(join(n.stateDir, 'views'))).length, 1, 'serve\'s recovery keeps the view the record holds');
  assertOk(t, await n.client.delete(req, path));
  t.is(await ownerPid(n), serve.child.pid);
  t.false(await exists(path));
  t.deepEqual(await entries(join(n.stateDir, 'views')), [], 'serve collected the unheld view');
  await serve.stop();

  // And once serve is gone, the plugin again.
  const next = request({ paths: fixture.root });
  assertOk(t, await n.client.create(next));
  await assertClosureAt(t, n, join(n.volumesDir, next.id), fixture);
  assertOk(t, await n.client.delete(next, join(n.volumesDir, next.id)));
  await assertNothingLeft(t, n);
});

// serve dies while it makes the host volume: before its first mount (the record and directory
// made), after it (the view's read-only bind made but not yet remounted read-only: a writable
// bind left in the scratch dir), after the mount at the path (done, never answered). The mount
// helper's system calls: the kept bind's bind (1) and remount (2), the bind at the path (3).
const KILLS: CommandMoment[] = [
  { command: 'cp', n: 1, when: 'before' },
  { command: 'mount(2)', n: 1, when: 'before' },
  { command: 'mount(2)', n: 1, when: 'after' },
  { command: 'mount(2)', n: 3, when: 'after' },
];

test.serial('serve SIGKILLed in the middle of a delegated create: the same call finishes in the plugin (recovery repairs), and delete leaves nothing', async (t) => {
  const fixture = await buildFixture('hostvol-serve-kill');
  const n = await node(t);
  const wrappers = await CrashWrappers.create(n.dir, n.stateDir);
  // Hardlink views (cp is the moment armed): a read-only volume would otherwise be a bind farm, which spawns no cp.
  const serve = ServeNode.create(t, { dir: n.dir, stateDir: n.stateDir, pathPrefix: wrappers.binDir, args: ['--view-mode', 'hardlink'] });
  for (const moment of KILLS) {
    const label = `${moment.command} ${moment.n} ${moment.when}`;
    const started = await serve.launch();
    t.true(started.ready, `${label}: serve started: ${started.stderr.slice(-2000)}`);
    await wrappers.arm(moment);
    const req = request({ paths: fixture.root }, `kill-${moment.command}-${moment.n}-${moment.when}`);
    const path = join(n.volumesDir, req.id);
    const created = await n.client.create(req);
    await wrappers.disarm();
    t.true(await wrappers.fired(), `${label}: the wrapper killed serve`);
    t.true(await serve.waitExit(10_000), `${label}: serve is dead`);
    assertOk(t, created);
    t.deepEqual(created.json, { path, bytes: 0 }, label);
    t.regex(created.stderr, /went away without answering; doing the work here/, label);
    await assertClosureAt(t, n, path, fixture);
    t.is((await entries(join(n.stateDir, 'views'))).length, 1, `${label}: one view`);
    t.is((await entries(join(n.stateDir, 'volumes'))).length, 1, `${label}: one record`);
    assertOk(t, await n.client.delete(req, path));
    await assertNothingLeft(t, n);
  }
});

test.serial('serve SIGKILLed in the middle of a delegated delete (at its umount, before and after): the same call finishes in the plugin, nothing left', async (t) => {
  const fixture = await buildFixture('hostvol-serve-kill');
  const n = await node(t);
  const wrappers = await CrashWrappers.create(n.dir, n.stateDir);
  // Hardlink views (cp is the moment armed): a read-only volume would otherwise be a bind farm, which spawns no cp.
  const serve = ServeNode.create(t, { dir: n.dir, stateDir: n.stateDir, pathPrefix: wrappers.binDir, args: ['--view-mode', 'hardlink'] });
  const moments: CommandMoment[] = [
    { command: 'umount2(2)', n: 1, when: 'before' },
    { command: 'umount2(2)', n: 1, when: 'after' },
  ];
  for (const moment of moments) {
    const label = `${moment.command} ${moment.n} ${moment.when}`;
    const started = await serve.launch();
    t.true(started.ready, `${label}: serve started: ${started.stderr.slice(-2000)}`);
    const req = request({ paths: fixture.root }, `kill-delete-${moment.n}-${moment.when}`);
    const path = join(n.volumesDir, req.id);
    assertOk(t, await n.client.create(req));
    await wrappers.arm(moment);
    const deleted = await n.client.delete(req, path);
    await wrappers.disarm();
    t.true(await wrappers.fired(), `${label}: the wrapper killed serve`);
    t.true(await serve.waitExit(10_000), `${label}: serve is dead`);
    assertOk(t, deleted);
    t.regex(deleted.stderr, /went away without answering; doing the work here/, label);
    await assertNothingLeft(t, n);
  }
});

test.serial('readOnly = "false" through serve: a writable overlay of the volume\'s own over the shared view; delete removes it', async (t) => {
  const fixture = await buildFixture('hostvol-serve');
  const n = await node(t);
  const serve = await startServe(t, n);
  const req = request({ paths: fixture.root, readOnly: 'false' });
  const path = join(n.volumesDir, req.id);
  assertOk(t, await n.client.create(req));
  await writeFile(join(path, 'scratch'), 'mine');
  t.is(await readFile(join(path, 'scratch'), 'utf8'), 'mine');
  t.is((await entries(join(n.stateDir, 'overlays'))).length, 1);
  t.is(await ownerPid(n), serve.child.pid);
  assertOk(t, await n.client.delete(req, path));
  t.deepEqual(await entries(join(n.stateDir, 'overlays')), []);
  await serve.stop();
  await assertNothingLeft(t, n);
});

test.serial('a serve whose mounts do not reach the node (its own mount namespace, no shared volumes dir): create refused with the fix named, and undone', async (t) => {
  const fixture = await buildFixture('hostvol-serve');
  const n = await node(t);
  const ns = await MountNamespace.create(t);
  const serve = await ServeNode.start(t, { dir: n.dir, stateDir: n.stateDir, ns });
  const req = request({ paths: fixture.root });
  const path = join(n.volumesDir, req.id);
  const call = await n.client.create(req);
  assertFailed(t, call, /mounted .* in a mount namespace that does not share it with this node's; give the serve task .* as a bind mount with shared propagation/);
  t.deepEqual(await ns.mountsAt(path), [], 'serve took its mount back');
  t.deepEqual(await mountsBelow(n.volumesDir), []);
  t.false(await exists(path));
  t.deepEqual(await entries(join(n.stateDir, 'volumes')), []);
  await serve.stop();
  await assertNothingLeft(t, n);
});

test.serial('a closure slower than Nomad\'s 60 s, through serve: the create answers "not ready" before the kill with nothing made, serve goes on fetching, and the retry gets the volume', async (t) => {
  const fixture = await buildFixture('hostvol-serve-slow');
  const cache = await startGatedCache(t, [fixture.root]);
  const storeDir = await tempDir(t, 'nixmount-hostvol-store-');
  const nix = { store: `local?root=${storeDir}`, substituters: cache.url, 'trusted-public-keys': cache.publicKey, 'stalled-download-timeout': '300s' };
  const n = await node(t, nix, storeDir);
  // serve's own realise wait (90 s by default) is longer than Nomad's limit: the plugin's deadline bounds this call.
  const serve = await startServe(t, n, Object.entries(nix).flatMap(([key, value]) => [`--${key}`, value]));
  const req = request({ paths: fixture.root });
  const path = join(n.volumesDir, req.id);
  const started = Date.now();
  const call = await n.client.create(req);
  const took = Date.now() - started;
  assertFailed(t, call, /the closure was not ready within Nomad's 60-second limit .*nixmount serve goes on fetching it: run the create again/);
  t.true(took < OPERATION_TIMEOUT_MS, `answered after ${took} ms, before Nomad's kill`);
  t.deepEqual(await mountsBelow(n.dir), []);
  t.deepEqual(await entries(n.volumesDir), []);
  t.deepEqual(await entries(join(n.stateDir, 'volumes')), []);
  t.is(await ownerPid(n), serve.child.pid);

  cache.open();
  const retry = await n.client.create(req);
  assertOk(t, retry);
  t.deepEqual(retry.json, { path, bytes: 0 });
  await assertClosureAt(t, n, path, fixture);
  assertOk(t, await n.client.delete(req, path));
  await serve.stop();
  await assertNothingLeft(t, n);
});

test.serial('a node config naming another store than the serve that owns the state dir: refused with both named, nothing made', async (t) => {
  const fixture = await buildFixture('hostvol-serve');
  const other = await tempDir(t, 'nixmount-hostvol-store-');
  const n = await node(t, { store: `local?root=${other}` });
  const serve = await startServe(t, n);
  const req = request({ paths: fixture.root });
  const call = await n.client.create(req);
  assertFailed(t, call, new RegExp(`the host volume config names store "local\\?root=${other}" but the nixmount serve that owns this state dir uses the default store; give both the same store`));
  t.deepEqual(await entries(n.volumesDir), []);
  t.deepEqual(await entries(join(n.stateDir, 'volumes')), []);
  await serve.stop();
  await assertNothingLeft(t, n);
});

test.serial('a serve in a mount namespace of its own made with --propagation unchanged (own-store under raw_exec on NixOS), over a shared volumes dir: the created path reaches the node', async (t) => {
  const fixture = await buildFixture('hostvol-serve');
  const n = await node(t);
  // The node's side: the volumes dir a shared mount, as under systemd (here / is private, so a bind of its own).
  await execa('mount', ['--bind', n.volumesDir, n.volumesDir]);
  await execa('mount', ['--make-shared', n.volumesDir]);
  const socket = join(n.dir, 'csi.sock');
  const args = [CLI, 'serve', '--endpoint', `unix://${socket}`, '--state-dir', n.stateDir, '--node-id', 'hostvol-unshared', '--substituters', '', '--view-idle', '0'];
  const child = execa('unshare', ['--mount', '--propagation', 'unchanged', '--', 'node', ...args], { env: nixEnv, reject: false });
  const client = new CsiClient(socket);
  t.teardown(() => {
    client.close();
    child.kill('SIGKILL');
  });
  let ready = false;
  for (let attempt = 0; attempt < 200 && !ready && child.exitCode === null; attempt++) {
    ready = await client.call('identity', 'Probe', {}, 1000).then((probe) => probe.ready?.value === true, () => false);
    if (!ready) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.true(ready, 'serve started');
  t.not(await execa('readlink', [`/proc/${child.pid}/ns/mnt`]).then((r) => r.stdout), await execa('readlink', ['/proc/self/ns/mnt']).then((r) => r.stdout), 'serve is in another mount namespace');

  const req = request({ paths: fixture.root });
  const path = join(n.volumesDir, req.id);
  const created = await n.client.create(req);
  assertOk(t, created);
  t.is(await ownerPid(n), child.pid, 'serve did the work');
  // Seen from the node's namespace: the closure with the store's inodes, read-only.
  t.deepEqual(await volumeMountsBelow(path), [path]);
  const data = fixture.closure.find((p) => p.includes('fixture-data'))!;
  const [here, store] = await Promise.all([stat(inVolume(path, fixture)), stat(join(data, 'share/greeting'))]);
  t.is(here.ino, store.ino);
  t.is(await writeFile(join(path, 'x'), 'x').then(() => undefined, (e: NodeJS.ErrnoException) => e.code), 'EROFS');
  assertOk(t, await n.client.delete(req, path));
  t.deepEqual(await mountsBelow(join(n.volumesDir, req.id)), []);
  t.false(await exists(path));
  client.close();
  child.kill('SIGTERM');
  t.is((await child).exitCode, 0);
  await execa('umount', [n.volumesDir]);
  await assertNothingLeft(t, n);
});

test.serial('a host volume plugin connection that never sends its request (nc -U, half a line typed) does not keep serve from stopping: SIGTERM exits within the grace', async (t) => {
  const n = await node(t);
  const serve = await startServe(t, n);
  const socketPath = join(n.stateDir, 'host-volume', 'plugin.sock');
  for (let i = 0; i < 100 && !(await exists(socketPath)); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  const idle = connect(socketPath);
  idle.on('error', () => undefined);
  t.teardown(() => idle.destroy());
  await new Promise<void>((resolve) => idle.once('connect', () => resolve()));
  idle.write('{"operation"');
  await new Promise((resolve) => setTimeout(resolve, 200));
  serve.client.close();
  const started = Date.now();
  // Not child.kill: execa would SIGKILL it 5 s later, which is what this test must not count as stopping.
  process.kill(serve.child.pid!, 'SIGTERM');
  // serve's grace is 10 s; it needs none of it here (the client has no operation under way).
  const exited = await Promise.race([serve.child.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 13_000))]);
  t.true(exited, `serve still running ${Date.now() - started} ms after SIGTERM`);
  t.is(serve.child.exitCode, 0);
  t.false(await exists(socketPath), 'the socket is gone with serve');
  await assertNothingLeft(t, n);
});

/**
 * `nixmount host-volume --config C create|delete` run directly (no wrapper, so no wrapper
 * flock), as Nomad's env gives it. `startedAtMs` is the `--started-at` the wrapper would
 * pass: one in the past is a wrapper that queued that long, which leaves the call less of
 * Nomad's minute (how a test reaches the deadlines without waiting them out).
 */
function directCall(n: Node, operation: 'create' | 'delete', id: string, parameters: Record<string, string>, startedAtMs?: number) {
  const path = join(n.volumesDir, id);
  const startedAt = startedAtMs === undefined ? [] : ['--started-at', String(Math.floor(startedAtMs / 1000))];
  return execa('node', [CLI, 'host-volume', '--config', join(n.dir, 'host-volume.json'), ...startedAt, operation], {
    env: {
      ...nixEnv,
      DHV_OPERATION: operation,
      DHV_VOLUMES_DIR: n.volumesDir,
      DHV_PLUGIN_DIR: join(n.dir, 'host_volume_plugins'),
      DHV_NODE_POOL: 'default',
      DHV_NAMESPACE: 'default',
      DHV_VOLUME_NAME: 'racing',
      DHV_VOLUME_ID: id,
      DHV_NODE_ID: 'nomad-node-1',
      DHV_PARAMETERS: goJson(parameters),
      ...(operation === 'delete' ? { DHV_CREATED_PATH: path } : { DHV_CAPACITY_MIN_BYTES: '0', DHV_CAPACITY_MAX_BYTES: '0' }),
    },
    reject: false,
    timeout: OPERATION_TIMEOUT_MS,
  });
}

test.serial('6 and 12 creates of one host volume at once through serve (no wrapper lock between them): one mount at the path, all answer its path, delete leaves nothing', async (t) => {
  const n = await node(t);
  const serve = await startServe(t, n);
  for (const [round, count] of [6, 12].entries()) {
    // A closure with no view yet: the first create spends seconds building it, the others arrive meanwhile.
    const fixture = await buildFixture(`hostvol-race-${process.pid}-${round}`);
    const id = `race-${round}`;
    const path = join(n.volumesDir, id);
    const calls = await Promise.all(Array.from({ length: count }, () => directCall(n, 'create', id, { paths: fixture.root })));
    for (const call of calls) {
      t.is(call.exitCode, 0, `${count}: ${call.stdout} ${call.stderr}`);
      t.deepEqual(JSON.parse(call.stdout) as unknown, { path, bytes: 0 });
    }
    t.deepEqual(await volumeMountsBelow(n.volumesDir), [path], `${count} creates: exactly one volume mount`);
    const records = await entries(join(n.stateDir, 'volumes'));
    t.is(records.length, 1, `${count} creates: one record`);
    const record = JSON.parse(await readFile(join(n.stateDir, 'volumes', records[0]!), 'utf8')) as { createdPath?: boolean };
    t.true(record.createdPath, 'the record says nixmount made the directory, so delete removes it');
    await assertClosureAt(t, n, path, fixture);
    const deleted = await directCall(n, 'delete', id, { paths: fixture.root });
    t.is(deleted.exitCode, 0, deleted.stderr);
    t.deepEqual(await mountsBelow(n.volumesDir), [], `${count} creates, one delete: no mount`);
    t.false(await exists(path), `${count} creates, one delete: no directory`);
  }
  t.is(await ownerPid(n), serve.child.pid, 'serve did every operation');
  await serve.stop();
  await assertNothingLeft(t, n);
});

test.serial('host volumes and CSI volumes keep apart in serve\'s records: a host volume delete refuses a CSI volume at its path, a CSI unpublish refuses a host volume, and each side still removes its own', async (t) => {
  const fixture = await buildFixture('hostvol-serve');
  const n = await node(t);
  const serve = await startServe(t, n);
  const context = { paths: fixture.root };

  // A CSI volume whose volume_id and target are what a host volume of that id would have.
  const csi = request(context);
  const csiPath = join(n.volumesDir, csi.id);
  t.is((await serve.client.code('node', 'NodePublishVolume', { volume_id: csi.id, target_path: csiPath, volume_capability: mountCapability(), readonly: true, volume_context: context })).code, 0);
  const refusedDelete = await n.client.delete(csi, csiPath);
  t.not(refusedDelete.exitCode, 0, 'the host volume plugin does not remove a CSI volume');
  t.regex(refusedDelete.nomadError ?? '', new RegExp(`${csiPath} holds a CSI volume \\(${csi.id}\\), not a Nomad host volume; nixmount's host volume plugin does not remove it`));
  t.deepEqual(await volumeMountsBelow(n.volumesDir), [csiPath], 'the CSI volume stays mounted');
  const refusedCreate = await n.client.create(csi);
  t.not(refusedCreate.exitCode, 0);
  t.regex(refusedCreate.nomadError ?? '', /holds a CSI volume/);

  // A host volume: CSI may not unpublish it, whatever volume_id it names.
  const host = request(context);
  const hostPath = join(n.volumesDir, host.id);
  assertOk(t, await n.client.create(host));
  const refusedUnpublish = await serve.client.code('node', 'NodeUnpublishVolume', { volume_id: host.id, target_path: hostPath });
  t.is(refusedUnpublish.code, 9, refusedUnpublish.details); // FAILED_PRECONDITION
  t.regex(refusedUnpublish.details, new RegExp(`${hostPath} holds a Nomad host volume \\(${host.id}\\), not a CSI volume; delete it with Nomad \\(nomad volume delete\\)`));
  const refusedPublish = await serve.client.code('node', 'NodePublishVolume', { volume_id: host.id, target_path: hostPath, volume_capability: mountCapability(), readonly: true, volume_context: context });
  t.is(refusedPublish.code, 9, refusedPublish.details);
  t.deepEqual((await volumeMountsBelow(n.volumesDir)).sort(), [csiPath, hostPath].sort(), 'both volumes stand');

  // Each side removes its own.
  assertOk(t, await n.client.delete(host, hostPath));
  t.is((await serve.client.code('node', 'NodeUnpublishVolume', { volume_id: csi.id, target_path: csiPath })).code, 0);
  t.deepEqual(await mountsBelow(n.volumesDir), []);
  await serve.stop();
  await assertNothingLeft(t, n);
});

// A wrapper that started this long ago leaves the call 5 s before its start-by time and 10 s before its answer-by time.
const QUEUED_MS = START_BY_MS - 5_000;

/** Waits (bounded) until serve's host volume service has logged the outcome of an operation on `volumeId`; what it logged is the test's to assert. */
async function loggedAbout(serve: ServeNode, volumeId: string): Promise<string[]> {
  const outcomes = () => serve.logged(volumeId, 30).filter((line) => line.component === 'host-volume').map((line) => line.raw);
  for (let i = 0; i < 600 && outcomes().length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return outcomes();
}

test.serial('serve stalled (SIGSTOP) past the plugin\'s deadline: the plugin answers "did not answer" in time, and serve, running again (SIGCONT), does not start the create it was sent: nothing left', async (t) => {
  const fixture = await buildFixture('hostvol-serve');
  const n = await node(t);
  const serve = await ServeNode.start(t, { dir: n.dir, stateDir: n.stateDir });
  const pid = serve.pid!;
  const id = `stalled-${process.pid}`;
  process.kill(pid, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone already
    }
  });
  const call = await directCall(n, 'create', id, { paths: fixture.root }, Date.now() - QUEUED_MS);
  t.is(call.exitCode, 1, call.stderr);
  t.regex(JSON.parse(call.stdout).error as string, /the nixmount serve at .* did not answer within \d+ s/);
  t.deepEqual(await mountsBelow(n.volumesDir), [], 'nothing made while serve was stopped');

  process.kill(pid, 'SIGCONT');
  const said = await loggedAbout(serve, id);
  t.is(said.length, 1, said.join('\n'));
  t.regex(said[0] ?? '', /"msg":"host volume operation failed"/);
  t.regex(said[0] ?? '', new RegExp(`the create of host volume ${id} reached nixmount serve \\d+\\.\\d s after its last start time; not started`));
  t.deepEqual(await mountsBelow(n.dir), [], 'no mount');
  t.deepEqual(await entries(n.volumesDir), [], 'no volume directory');
  t.deepEqual(await entries(join(n.stateDir, 'volumes')), [], 'no record');
  t.deepEqual(await entries(join(n.stateDir, 'views')), [], 'no view');

  // serve is well: the same create, asked in time, is made.
  const again = await directCall(n, 'create', id, { paths: fixture.root });
  t.is(again.exitCode, 0, again.stderr);
  t.deepEqual(JSON.parse(again.stdout) as unknown, { path: join(n.volumesDir, id), bytes: 0 });
  t.is((await directCall(n, 'delete', id, {})).exitCode, 0);
  t.is(await serve.stop(), 0);
  await assertNothingLeft(t, n);
});

test.serial('a delegated create that serve finishes after its answer-by time (held in its view build until the plugin gave up) is undone: no mount, record, directory or view', async (t) => {
  const fixture = await buildFixture('hostvol-serve-late');
  const n = await node(t);
  const wrappers = await CrashWrappers.create(n.dir, n.stateDir);
  const serve = await ServeNode.start(t, { dir: n.dir, stateDir: n.stateDir, pathPrefix: wrappers.binDir, args: ['--view-mode', 'hardlink'] });
  const id = `late-${process.pid}`;
  // Hardlink views: the build's first cp is where serve is held (a bind-farm view spawns no cp).
  await wrappers.arm({ command: 'cp', n: 1, when: 'pause' });
  t.teardown(() => wrappers.resume());
  const call = await directCall(n, 'create', id, { paths: fixture.root }, Date.now() - QUEUED_MS);
  t.is(call.exitCode, 1, `${call.stdout} ${call.stderr}`);
  t.regex(JSON.parse(call.stdout).error as string, /the nixmount serve at .* did not answer within \d+ s/);
  t.regex(await readFile(join(wrappers.ctl, 'paused'), 'utf8').catch(() => ''), /^cp 1$/m, 'serve had begun the create: it waited in the view build');

  wrappers.resume();
  const said = await loggedAbout(serve, id);
  await wrappers.disarm();
  t.is(said.length, 1, said.join('\n'));
  t.regex(said[0] ?? '', /"msg":"host volume operation failed"/);
  t.regex(said[0] ?? '', /made too late, and undone, \d+\.\d s after the caller stopped waiting for the answer; nothing of it is left/);
  t.true((await wrappers.calls()).some((call) => call.command === 'umount2(2)'), 'the mount made was taken back');
  t.is(await serve.stop(), 0);
  await assertNothingLeft(t, n);
});

/** One raw line to serve's host volume socket, and its answer. */
async function askRaw(socketPath: string, line: string): Promise<Record<string, unknown>> {
  const socket = connect(socketPath);
  socket.setEncoding('utf8');
  let text = '';
  socket.on('data', (chunk: string) => (text += chunk));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => socket.write(`${line}\n`));
    socket.once('close', () => resolve());
    socket.once('error', reject);
  });
  return JSON.parse(text.split('\n')[0]!) as Record<string, unknown>;
}

test.serial('a host volume request line that is JSON but not the plugin\'s object (null, an array, a number, a string, keys missing or of the wrong type) is INVALID_ARGUMENT naming what is wrong; serve goes on', async (t) => {
  const n = await node(t);
  const serve = await startServe(t, n);
  const socketPath = join(n.stateDir, 'host-volume', 'plugin.sock');
  for (let i = 0; i < 100 && !(await exists(socketPath)); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  const now = Date.now();
  const good = { operation: 'create', env: { DHV_VOLUMES_DIR: n.volumesDir, DHV_VOLUME_ID: 'x' }, startBy: now + 45_000, answerBy: now + 50_000, store: '' };
  const cases: Array<[string, RegExp]> = [
    ['null', /; got null$/],
    ['[1,2]', /; got an array$/],
    ['42', /; got a number$/],
    ['"create"', /; got a string$/],
    ['{}', /its "operation" is missing$/],
    [JSON.stringify({ ...good, operation: 'resize' }), /its "operation" is "resize"$/],
    [JSON.stringify({ ...good, env: null }), /its "env" is null$/],
    [JSON.stringify({ ...good, env: { DHV_VOLUME_ID: 7 } }), /its "env" is \{"DHV_VOLUME_ID":7\}$/],
    [JSON.stringify({ ...good, startBy: 'soon' }), /its "startBy" is "soon"$/],
    [JSON.stringify({ ...good, answerBy: undefined }), /its "answerBy" is missing$/],
    [JSON.stringify({ ...good, answerBy: null }), /its "answerBy" is null$/],
    [JSON.stringify({ ...good, store: 1 }), /its "store" is 1$/],
  ];
  for (const [line, pattern] of cases) {
    const answer = await askRaw(socketPath, line);
    t.is(answer.ok, false, line);
    t.is(answer.kind, 'InvalidArgument', line);
    t.regex(String(answer.message), /^a host volume request is a JSON object with operation/, line);
    t.regex(String(answer.message), pattern, line);
  }
  t.deepEqual(await entries(n.volumesDir), []);
  t.deepEqual(await entries(join(n.stateDir, 'volumes')), []);
  await serve.stop();
  await assertNothingLeft(t, n);
});
