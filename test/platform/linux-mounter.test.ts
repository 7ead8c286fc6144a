import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdir, readdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeSettings } from '../../src/core/settings.js';
import { ExecaProcessRunner } from '../../src/platform/execa-process-runner.js';
import { LinuxMounter } from '../../src/platform/linux-mounter.js';
import { MountHelper, type MountHelperSettings } from '../../src/platform/mount-helper.js';
import { readMountInfo } from '../../src/platform/mountinfo.js';
import type { ProcessRunner } from '../../src/platform/process-runner.js';
import { tempDir } from '../helpers/temp.js';

// topAt answers the two common cases without reading the mount table; it must agree
// with the table (mountsAt) in every case, the uncommon ones included.

const KEY = 'a'.repeat(32);
const OTHER = 'b'.repeat(32);
const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };

async function setup(t: ExecutionContext) {
  const state = await tempDir(t);
  await mkdir(join(state, 'views', KEY, 'nix/store'), { recursive: true });
  await mkdir(join(state, 'views', OTHER, 'nix/store'), { recursive: true });
  const settings = { stateDir: state } as unknown as NodeSettings;
  const runner = new ExecaProcessRunner(silent);
  const mounter = new LinuxMounter(runner, settings, new MountHelper(runner, silent, { helper: 'auto' }));
  const target = join(state, 'targets', 't');
  await mkdir(target, { recursive: true });
  const agree = async (expected: unknown) => {
    t.deepEqual(await mounter.topAt(target), expected);
    t.deepEqual((await mounter.mountsAt(target)).at(-1), expected);
  };
  return { state, mounter, target, agree };
}

test('no mount, a missing path, a view bind, a stack of two views: topAt agrees with the table', async (t) => {
  const { state, mounter, target, agree } = await setup(t);
  await agree(undefined);
  t.is(await mounter.topAt(join(state, 'targets', 'missing')), undefined);
  await mounter.bindReadOnly(join(state, 'views', KEY, 'nix'), target);
  await agree({ kind: 'view', viewKey: KEY });
  await mounter.bindReadOnly(join(state, 'views', OTHER, 'nix'), target);
  await agree({ kind: 'view', viewKey: OTHER });
  await mounter.unmount(target);
  await agree({ kind: 'view', viewKey: KEY });
  await mounter.unmount(target);
  await agree(undefined);
});

test('a view renamed aside while mounted is still ours; a foreign mount on top of a view is foreign', async (t) => {
  const { state, mounter, target, agree } = await setup(t);
  await mounter.bindReadOnly(join(state, 'views', KEY, 'nix'), target);
  await rename(join(state, 'views', KEY), join(state, 'views', `.deleting-${KEY}-0a1b`));
  await agree({ kind: 'view', viewKey: KEY });
  await execa('mount', ['-t', 'tmpfs', 'admin-scratch', target]);
  const top = await mounter.topAt(target);
  t.is(top?.kind, 'foreign');
  t.deepEqual(top, (await mounter.mountsAt(target)).at(-1));
});

test('a bind of a directory that is not a view, and a symlinked target, are read from the table', async (t) => {
  const { state, mounter, target, agree } = await setup(t);
  const elsewhere = join(state, 'elsewhere');
  await mkdir(elsewhere);
  await execa('mount', ['--bind', elsewhere, target]);
  const top = await mounter.topAt(target);
  t.is(top?.kind, 'foreign');
  await agree(top);
  const link = join(state, 'targets', 'link');
  await symlink(target, link);
  t.deepEqual(await mounter.topAt(link), (await mounter.mountsAt(link)).at(-1));
});

// A read-only volume is a plain bind of a read-only bind the mounter keeps per view (and
// per set of extra flags) in <state>/.mounting, so a warm publish spawns one `mount`.

/** The mounter over a runner that writes down every command it runs (with the mount helper, or util-linux for every call). */
async function counting(t: ExecutionContext, helper: MountHelperSettings['helper'] = 'off') {
  const state = await tempDir(t);
  const nix = join(state, 'views', KEY, 'nix');
  await mkdir(join(nix, 'store'), { recursive: true });
  await writeFile(join(nix, 'store/file'), 'view\n');
  const inner = new ExecaProcessRunner(silent);
  const commands: string[] = [];
  const runner: ProcessRunner = { run: (command, args, options) => (commands.push([command, ...args].join(' ')), inner.run(command, args, options)) };
  const mounter = new LinuxMounter(runner, { stateDir: state } as unknown as NodeSettings, new MountHelper(runner, silent, { helper }));
  const target = async (name: string) => {
    const path = join(state, 'targets', name);
    await mkdir(path, { recursive: true });
    return path;
  };
  return { state, nix, mounter, commands, target };
}

const at = async (point: string) => (await readMountInfo()).filter((entry) => entry.mountPoint === point);

test('read-only binds: made once per view, then one `mount --bind` per target; targets read-only, nosuid, nodev and the view\'s', async (t) => {
  const { state, nix, mounter, commands, target } = await counting(t);
  const ro = join(state, '.mounting', KEY);
  const [a, b] = [await target('a'), await target('b')];
  await mounter.bindReadOnly(nix, a);
  t.deepEqual(commands, [`mount -o bind,ro,nosuid,nodev ${nix} ${ro}`, `mount --bind --no-canonicalize ${ro} ${a}`]);
  commands.length = 0;
  await mounter.bindReadOnly(nix, b);
  t.deepEqual(commands, [`mount --bind --no-canonicalize ${ro} ${b}`], 'a warm read-only bind is one spawn');
  for (const point of [a, b]) {
    const [entry] = await at(point);
    t.is(entry?.root, nix, 'mountinfo shows the view\'s nix as the root of a bind of the bind');
    t.true(['ro', 'nosuid', 'nodev'].every((flag) => entry!.options.includes(flag)), entry?.options.join(','));
    t.deepEqual(await mounter.topAt(point), { kind: 'view', viewKey: KEY });
    t.deepEqual((await mounter.mountsAt(point)).at(-1), { kind: 'view', viewKey: KEY });
  }
  const written = await execa('touch', [join(b, 'store/x')], { reject: false });
  t.regex(written.stderr, /Read-only file system/);
  t.deepEqual((await mounter.ownMounts()).map((own) => own.mountPoint).sort(), [a, b], 'the kept bind is not a volume and holds no view');
});

test('with the mount helper a read-only bind spawns nothing (the kept bind with extra flags excepted), and the target is just as read-only and the view\'s', async (t) => {
  const { state, nix, mounter, commands, target } = await counting(t, 'auto');
  const [a, b, c] = [await target('a'), await target('b'), await target('c')];
  await mounter.bindReadOnly(nix, a);
  await mounter.bindReadOnly(nix, b);
  await mounter.unmount(a);
  t.deepEqual(commands, []);
  const [kept] = await at(join(state, '.mounting', KEY));
  t.true(['ro', 'nosuid', 'nodev'].every((flag) => kept!.options.includes(flag)), kept?.options.join(','));
  await mounter.bindReadOnly(nix, c, ['noexec']);
  t.is(commands.length, 1);
  t.regex(commands[0]!, /^mount -o bind,ro,nosuid,nodev,noexec /);
  t.true((await at(c))[0]!.options.includes('noexec'));
  const [entry] = await at(b);
  t.is(entry?.root, nix);
  t.true(['ro', 'nosuid', 'nodev'].every((flag) => entry!.options.includes(flag)), entry?.options.join(','));
  t.deepEqual(await at(a), []);
  t.regex((await execa('touch', [join(b, 'store/x')], { reject: false })).stderr, /Read-only file system/);
});

test('read-only binds: releaseView unmounts the view\'s binds (each set of flags has its own) and the targets stay; sweep removes any, counting only interrupted ones', async (t) => {
  const { state, nix, mounter, commands, target } = await counting(t);
  const [a, b, c] = [await target('a'), await target('b'), await target('c')];
  await mounter.bindReadOnly(nix, a);
  await mounter.bindReadOnly(nix, b, ['noexec']);
  const names = (await readdir(join(state, '.mounting'))).sort();
  t.is(names.length, 2);
  t.is(names[0], KEY);
  t.regex(names[1]!, new RegExp(`^${KEY}-[0-9a-f]{16}$`));
  t.true((await at(b))[0]!.options.includes('noexec'));
  t.false((await at(a))[0]!.options.includes('noexec'));
  await mounter.releaseView(KEY);
  t.deepEqual(await readdir(join(state, '.mounting')), []);
  t.deepEqual(await at(join(state, '.mounting', KEY)), []);
  for (const point of [a, b]) t.deepEqual(await mounter.topAt(point), { kind: 'view', viewKey: KEY }, 'a target outlives the bind it was made from');
  commands.length = 0;
  await mounter.bindReadOnly(nix, c);
  t.is(commands.length, 2, 'released, so made again');
  // What an interrupted one-off mount left is counted; the kept bind goes silently.
  await mkdir(join(state, '.mounting', '.0123456789abcdef'));
  await execa('mount', ['--bind', join(state, 'views', KEY, 'nix'), join(state, '.mounting', '.0123456789abcdef')]);
  t.is(await mounter.sweep(), 1);
  t.deepEqual(await readdir(join(state, '.mounting')), []);
  t.deepEqual(await at(join(state, '.mounting', KEY)), []);
  t.deepEqual(await mounter.topAt(c), { kind: 'view', viewKey: KEY });
});

test('read-only binds: one unmounted or covered behind the mounter\'s back is never trusted: the target is unbound and the bind made again', async (t) => {
  const { state, nix, mounter, commands, target } = await counting(t);
  const ro = join(state, '.mounting', KEY);
  const [a, b, c] = [await target('a'), await target('b'), await target('c')];
  await mounter.bindReadOnly(nix, a);
  await execa('umount', [ro]);
  commands.length = 0;
  await mounter.bindReadOnly(nix, b);
  t.deepEqual(commands, [
    `mount --bind --no-canonicalize ${ro} ${b}`, // the empty scratch dir: not the view, not read-only
    `umount --no-canonicalize ${b}`,
    `mount -o bind,ro,nosuid,nodev ${nix} ${ro}`,
    `mount --bind --no-canonicalize ${ro} ${b}`,
  ]);
  await execa('mount', ['-t', 'tmpfs', 'covering', ro]);
  commands.length = 0;
  await mounter.bindReadOnly(nix, c);
  t.deepEqual(commands, [
    `mount --bind --no-canonicalize ${ro} ${c}`, // the tmpfs
    `umount --no-canonicalize ${c}`,
    `umount --no-canonicalize ${ro}`,
    `umount --no-canonicalize ${ro}`,
    `mount -o bind,ro,nosuid,nodev ${nix} ${ro}`,
    `mount --bind --no-canonicalize ${ro} ${c}`,
  ], 'the tmpfs and the old bind come off first');
  t.is((await at(ro)).length, 1);
  for (const point of [a, b, c]) {
    t.is((await at(point)).length, 1);
    t.deepEqual(await mounter.topAt(point), { kind: 'view', viewKey: KEY });
    t.regex((await execa('touch', [join(point, 'x')], { reject: false })).stderr, /Read-only file system/);
  }
});

test('a source that is not a view is bound through a scratch bind that goes at once', async (t) => {
  const { state, mounter, commands, target } = await counting(t);
  const other = join(state, 'elsewhere');
  await mkdir(other);
  const a = await target('a');
  await mounter.bindReadOnly(other, a);
  t.is(commands.length, 3);
  t.regex(commands[0]!, /^mount -o bind,ro,nosuid,nodev .*\/elsewhere .*\/\.mounting\/\.[0-9a-f]{16}$/);
  t.deepEqual(await readdir(join(state, '.mounting')), []);
  t.true((await at(a))[0]!.options.includes('ro'));
});
