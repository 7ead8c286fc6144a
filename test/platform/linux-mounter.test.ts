import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdir, rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeSettings } from '../../src/core/settings.js';
import { ExecaProcessRunner } from '../../src/platform/execa-process-runner.js';
import { LinuxMounter } from '../../src/platform/linux-mounter.js';
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
  const mounter = new LinuxMounter(new ExecaProcessRunner(silent), settings);
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
