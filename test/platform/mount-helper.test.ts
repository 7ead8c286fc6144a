import test from 'ava';
import { execa } from 'execa';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ExecaProcessRunner } from '../../src/platform/execa-process-runner.js';
import { MountHelper, type MountHelperSettings } from '../../src/platform/mount-helper.js';
import { readMountInfo } from '../../src/platform/mountinfo.js';
import { createLogger } from '../../src/platform/pino-logger.js';
import type { ProcessRunner } from '../../src/platform/process-runner.js';
import { RecordingLogger } from '../helpers/recording-logger.js';
import { isAlive, mountHelperPids } from '../helpers/processes.js';
import { buildFixture } from '../helpers/nix.js';
import { mountsBelow, unmountBelow } from '../helpers/mounts.js';
import { startServeProcess } from '../helpers/serve-process.js';
import { publishRequest, storeOf } from '../helpers/sources.js';
import { tempDir } from '../helpers/temp.js';

// The mount helper makes binds and unmounts as system calls from one long-lived perl
// process; where it cannot run, util-linux does the same work. Serial: one test empties PATH.

const mountsAt = async (point: string) => (await readMountInfo()).filter((entry) => entry.mountPoint === point);

function helperWith(helper: MountHelperSettings['helper'] = 'auto') {
  const log = new RecordingLogger();
  const inner = new ExecaProcessRunner(log);
  const spawned: string[] = [];
  const runner: ProcessRunner = { run: (command, args, options) => (spawned.push([command, ...args].join(' ')), inner.run(command, args, options)) };
  return { mounts: new MountHelper(runner, log, { helper }), spawned, log };
}

async function dirs(t: Parameters<typeof tempDir>[0]) {
  const root = await tempDir(t);
  const [source, target] = [join(root, 'source'), join(root, 'target')];
  await mkdir(source);
  await mkdir(target);
  await writeFile(join(source, 'file'), 'from the source\n');
  return { root, source, target };
}

test.serial('binds and unmounts by system calls, spawning nothing; the target shows the source', async (t) => {
  const { source, target } = await dirs(t);
  const { mounts, spawned } = helperWith();
  t.teardown(() => mounts.close());
  await mounts.bind(source, target);
  t.is(await readFile(join(target, 'file'), 'utf8'), 'from the source\n');
  const [entry] = await mountsAt(target);
  t.is(entry?.root, source);
  await mounts.unmount(target);
  t.deepEqual(await mountsAt(target), []);
  t.deepEqual(spawned, [], 'no mount or umount was spawned');
  t.is(mounts.fallbackReason, undefined);
});

test.serial('a read-only bind is read-only, nosuid and nodev, by system calls too', async (t) => {
  const { source, target } = await dirs(t);
  const { mounts, spawned } = helperWith();
  t.teardown(() => mounts.close());
  await mounts.bindReadOnly(source, target);
  const [entry] = await mountsAt(target);
  t.true(['ro', 'nosuid', 'nodev'].every((flag) => entry!.options.includes(flag)), entry?.options.join(','));
  t.regex((await execa('touch', [join(target, 'new')], { reject: false })).stderr, /Read-only file system/);
  await mounts.unmount(target);
  t.deepEqual(spawned, []);
});

test.serial('a failed call is an Internal error naming the call and the errno; the helper goes on', async (t) => {
  const { root, source, target } = await dirs(t);
  const { mounts } = helperWith();
  t.teardown(() => mounts.close());
  const missing = join(root, 'missing');
  const bind = await t.throwsAsync(mounts.bind(source, missing));
  t.is((bind as { kind?: string }).kind, 'Internal');
  t.is(bind?.message, `mount --bind ${source} ${missing}: No such file or directory (errno 2)`);
  const unmount = await t.throwsAsync(mounts.unmount(target));
  t.is(unmount?.message, `umount ${target}: Invalid argument (errno 22)`, 'not a mount point');
  await mounts.bind(source, target);
  t.is((await mountsAt(target)).length, 1);
  await mounts.unmount(target);
});

test.serial('an unmount never follows a symlink: the mount behind it stays', async (t) => {
  const { root, source, target } = await dirs(t);
  const { mounts } = helperWith();
  t.teardown(() => mounts.close());
  await mounts.bind(source, target);
  const link = join(root, 'link');
  await symlink(target, link);
  await t.throwsAsync(mounts.unmount(link), { message: /Invalid argument/ });
  t.is((await mountsAt(target)).length, 1);
  await mounts.unmount(target);
});

test.serial('a helper killed between calls is started again by the next call', async (t) => {
  const { source, target } = await dirs(t);
  const { mounts } = helperWith();
  t.teardown(() => mounts.close());
  await mounts.bind(source, target);
  const first = await mountHelperPids(process.pid);
  t.is(first.length, 1);
  process.kill(first[0]!, 'SIGKILL');
  // Reaped (gone from /proc) means this process has seen it exit; a call sent before that fails, as it must.
  await waitFor(async () => !(await readFile(`/proc/${first[0]}/status`, 'utf8').then(() => true, () => false)));
  await mounts.unmount(target);
  t.deepEqual(await mountsAt(target), []);
  const second = await mountHelperPids(process.pid);
  t.is(second.length, 1);
  t.not(second[0], first[0]);
});

test.serial('--mount-helper off, and a node without perl: util-linux does the same work, and says why', async (t) => {
  const { source, target } = await dirs(t);
  const off = helperWith('off');
  await off.mounts.bind(source, target);
  await off.mounts.unmount(target);
  await off.mounts.bindReadOnly(source, target);
  await off.mounts.unmount(target);
  t.deepEqual(off.spawned.map((line) => line.split(' ').slice(0, 2).join(' ')), ['mount --bind', 'umount --no-canonicalize', 'mount -o', 'umount --no-canonicalize']);
  t.is(off.mounts.fallbackReason, '--mount-helper off');

  const bin = await tempDir(t);
  for (const tool of ['mount', 'umount', 'setpriv']) await symlink(`/usr/bin/${tool}`, join(bin, tool));
  const path = process.env.PATH;
  process.env.PATH = bin;
  t.teardown(() => {
    process.env.PATH = path;
  });
  const noPerl = helperWith();
  await noPerl.mounts.bind(source, target);
  await noPerl.mounts.unmount(target);
  process.env.PATH = path;
  t.is(noPerl.spawned.length, 2);
  t.is(noPerl.mounts.fallbackReason, 'no perl on PATH');
  t.true(noPerl.log.records.some((entry) => entry.level === 'warn' && /mount helper unavailable/.test(entry.message)));
  t.deepEqual(await mountsAt(target), []);
});

test.serial('the helper dies with its plugin: a plugin killed with SIGKILL leaves no helper', async (t) => {
  const { source, target } = await dirs(t);
  const script = [
    `import { MountHelper } from ${JSON.stringify(new URL('../../src/platform/mount-helper.js', import.meta.url).href)};`,
    `const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };`,
    `const mounts = new MountHelper({ run: async () => { throw new Error('spawned'); } }, silent, { helper: 'auto' });`,
    `await mounts.bind(${JSON.stringify(source)}, ${JSON.stringify(target)});`,
    `console.log('bound');`,
    `setInterval(() => {}, 1000);`,
  ].join('\n');
  const plugin = execa('node', ['--input-type=module', '-e', script], { reject: false });
  await new Promise<void>((resolve) => plugin.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('bound') && resolve()));
  const helpers = await mountHelperPids(plugin.pid!);
  t.is(helpers.length, 1);
  plugin.kill('SIGKILL');
  await plugin;
  await waitFor(async () => !(await isAlive(helpers[0]!)));
  t.false(await isAlive(helpers[0]!));
  t.is((await mountsAt(target)).length, 1, 'what it did stays, for the next start to judge');
  await execa('umount', [target]);
});

test.serial('a helper the system cannot start (out of descriptors) leaves the call to util-linux and the process alive; it is not held against the helper', async (t) => {
  const { source, target } = await dirs(t);
  // Its own process with a low limit: exhausting this test process' descriptors would break ava.
  const script = [
    `import { openSync, closeSync } from 'node:fs';`,
    `import { MountHelper } from ${JSON.stringify(new URL('../../src/platform/mount-helper.js', import.meta.url).href)};`,
    `const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };`,
    `const spawned = [];`,
    `const mounts = new MountHelper({ run: async (command, args) => { spawned.push(command); return { exitCode: 0, stdout: '', stderr: '' }; } }, silent, { helper: 'auto' });`,
    `const fds = [];`,
    `try { for (;;) fds.push(openSync('/dev/null', 'r')); } catch {}`,
    `for (let i = 0; i < 4; i++) await mounts.bind(${JSON.stringify(source)}, ${JSON.stringify(target)});`,
    `await new Promise((resolve) => setTimeout(resolve, 100));`,
    `for (const fd of fds) closeSync(fd);`,
    `const disabled = mounts.fallbackReason ?? null;`,
    `await mounts.bind(${JSON.stringify(source)}, ${JSON.stringify(target)});`,
    `await mounts.unmount(${JSON.stringify(target)});`,
    `mounts.close();`,
    `console.log(JSON.stringify({ spawned, disabled }));`,
  ].join('\n');
  const result = await execa('prlimit', ['--nofile=64', '--', process.execPath, '--input-type=module', '-e', script], { reject: false });
  t.is(result.exitCode, 0, result.stderr);
  t.deepEqual(JSON.parse(result.stdout), { spawned: ['mount', 'mount', 'mount', 'mount'], disabled: null });
  t.deepEqual(await mountsAt(target), [], 'the helper, started once descriptors were free, bound and unmounted');
});

test.serial('serve starts its helper before it answers Probe (a node without perl is told at start), and a stop ends it', async (t) => {
  const dir = await tempDir(t);
  const socket = join(dir, 'csi.sock');
  const serve = await startServeProcess(['--endpoint', `unix://${socket}`, '--state-dir', join(dir, 'state'), '--node-id', 'n'], socket);
  t.teardown(() => serve.client.close());
  const helpers = await mountHelperPids(serve.child.pid!);
  t.is(helpers.length, 1);
  serve.child.kill('SIGTERM');
  await serve.child;
  await waitFor(async () => !(await isAlive(helpers[0]!)));
  t.false(await isAlive(helpers[0]!));

  const bin = await tempDir(t);
  for (const tool of ['mount', 'umount', 'setpriv', 'flock', 'nix', 'nix-store']) await symlink((await execa('which', [tool])).stdout, join(bin, tool));
  await symlink(process.execPath, join(bin, 'node'));
  const noPerl = await startServeProcess(['--endpoint', `unix://${socket}`, '--state-dir', join(dir, 'state'), '--node-id', 'n'], socket, {
    env: { PATH: bin, NIXMOUNT_LOG_LEVEL: 'warn' },
  });
  t.teardown(() => noPerl.client.close());
  noPerl.child.kill('SIGTERM');
  const stopped = await noPerl.child;
  t.regex(String(stopped.stderr), /mount helper unavailable: binds and unmounts spawn util-linux mount and umount.*no perl on PATH|no perl on PATH.*mount helper unavailable/);
});

test.serial('the helper\'s log line names it helperPid: the plugin\'s own pid, which the logger adds, stays the only pid', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const log = createLogger({ level: 'debug', destination: sink });
  const mounts = new MountHelper(new ExecaProcessRunner(log), log, { helper: 'auto' });
  t.teardown(() => mounts.close());
  await mounts.prepare();
  const [helperPid] = await mountHelperPids(process.pid);
  const started = lines.filter((line) => line.includes('"mount helper started"'));
  t.is(started.length, 1, lines.join('\n'));
  // JSON readers keep the last of two equal keys: the raw text must hold one.
  t.is(started[0]!.match(/"pid":/g)?.length, 1, started[0]);
  const fields = JSON.parse(started[0]!) as Record<string, unknown>;
  t.is(fields.pid, process.pid);
  t.is(fields.helperPid, helperPid);
});

test.serial('a helper that stops answering: its calls go to util-linux within seconds, each made once; it is wedged until it answers again', async (t) => {
  const root = await tempDir(t);
  const source = join(root, 'source');
  await mkdir(source);
  const targets = ['1', '2', '3', '4', '5'].map((name) => join(root, name));
  for (const target of targets) await mkdir(target);
  const { mounts, spawned } = helperWith();
  let helperPid: number | undefined;
  t.teardown(async () => {
    if (helperPid) process.kill(helperPid, 'SIGCONT');
    mounts.close();
    for (const target of targets) while ((await mountsAt(target)).length > 0) await execa('umount', [target]);
  });
  await mounts.prepare();
  [helperPid] = await mountHelperPids(process.pid);
  process.kill(helperPid!, 'SIGSTOP'); // as a mount(2) hung on a dead NFS server would hold it
  await Promise.all(targets.map((target) => mounts.bind(source, target)));
  t.deepEqual(spawned.map((line) => line.split(' ').slice(0, 2).join(' ')), targets.map(() => 'mount --bind'));
  t.regex(mounts.wedgedReason ?? '', /^the mount helper has not answered mount --bind /);
  // While wedged, calls go straight to util-linux.
  await mounts.unmount(targets[0]!);
  t.is(spawned.length, 6);
  await mounts.bind(source, targets[0]!);

  process.kill(helperPid!, 'SIGCONT');
  await waitFor(async () => mounts.wedgedReason === undefined);
  t.is(mounts.wedgedReason, undefined, 'it answered again');
  // The calls it read late were past their deadline: dropped, not made a second time.
  for (const target of targets) t.is((await mountsAt(target)).length, 1, target);
  for (const target of targets) await mounts.unmount(target);
  t.is(spawned.length, 7, 'the helper makes the calls again');
  for (const target of targets) t.deepEqual(await mountsAt(target), []);
});

test.serial('serve with its helper stopped: five read-only publishes succeed through util-linux, Probe says not ready until the helper answers', async (t) => {
  const fixture = await buildFixture('-wedged-helper');
  const dir = await tempDir(t);
  const socket = join(dir, 'csi.sock');
  const pods = join(dir, 'pods');
  const serve = await startServeProcess(['--endpoint', `unix://${socket}`, '--state-dir', join(dir, 'state'), '--node-id', 'n'], socket);
  const [helperPid] = await mountHelperPids(serve.child.pid!);
  t.teardown(async () => {
    process.kill(helperPid!, 'SIGCONT');
    serve.client.close();
    serve.child.kill('SIGKILL');
    await serve.child;
    await unmountBelow(pods);
  });
  const probe = async () => (await serve.client.call('identity', 'Probe', {})).ready?.value;
  process.kill(helperPid!, 'SIGSTOP');
  const volumes = ['1', '2', '3', '4', '5'];
  for (const volume of volumes) await mkdir(join(pods, volume), { recursive: true });
  await Promise.all(volumes.map((volume) => serve.client.call('node', 'NodePublishVolume', publishRequest(`vol-${volume}`, join(pods, volume, 'mount'), { paths: fixture.root }))));
  for (const volume of volumes) t.deepEqual(await storeOf(join(pods, volume, 'mount')), fixture.closure);
  t.false(await probe(), 'not ready while the helper does not answer');
  process.kill(helperPid!, 'SIGCONT');
  let ready = false;
  for (let i = 0; i < 50 && !ready; i++) ready = (await probe()) === true || (await new Promise((resolve) => setTimeout(resolve, 100)), false);
  t.true(ready, 'ready once it answers again');
  // Read-only volumes are bind farms (--view-mode auto): each target is the view's mount, its store directory's and one per store path.
  t.deepEqual((await mountsBelow(pods)).length, volumes.length * (fixture.closure.length + 2), 'one tree per volume: nothing made twice');
  for (const volume of volumes) await serve.client.call('node', 'NodeUnpublishVolume', { volume_id: `vol-${volume}`, target_path: join(pods, volume, 'mount') });
  t.deepEqual(await mountsBelow(pods), []);
  t.deepEqual(await mountHelperPids(serve.child.pid!), [helperPid], 'the same helper serves on');
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100 && !(await check()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
}
