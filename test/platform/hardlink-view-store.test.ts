import test from 'ava';
import { lstat, mkdir, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ViewContents } from '../../src/core/ports/view-store.js';
import { ExecaProcessRunner } from '../../src/platform/execa-process-runner.js';
import { HardlinkViewStore } from '../../src/platform/hardlink-view-store.js';
import { MountHelper } from '../../src/platform/mount-helper.js';
import { silentLogger } from '../helpers/fakes.js';
import { tempDir } from '../helpers/temp.js';

// The hardlink view store on a real file system, without Nix: "store paths" are
// directories in a temp dir, and registration is a stand-in that writes the db dir.

const KEY = 'a'.repeat(32);
const APP = `${'1'.repeat(32)}-app`;
const LIB = `${'2'.repeat(32)}-lib`;

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const store = join(dir, 'store');
  for (const name of [APP, LIB]) {
    await mkdir(join(store, name, 'bin'), { recursive: true });
    await writeFile(join(store, name, 'bin', 'run'), `#!/bin/sh\necho ${name}\n`);
  }
  const runner = new ExecaProcessRunner(silentLogger);
  const helper = new MountHelper(runner, silentLogger, { helper: 'auto' });
  t.teardown(() => helper.close());
  const views = new HardlinkViewStore({ driverName: 'd', driverVersion: '0', nodeId: 'n', stateDir: join(dir, 'state'), viewIdleMs: 0 }, runner, helper);
  const order: string[] = [];
  const contents = (roots = [`/nix/store/${APP}`]): ViewContents => ({
    roots,
    paths: [APP, LIB].map((name) => ({ storePath: `/nix/store/${name}`, physicalPath: join(store, name) })),
    register: async (rootDir) => {
      await mkdir(join(rootDir, 'nix/var/nix/db'), { recursive: true });
      order.push('register');
    },
  });
  return { dir, store, views, contents, order };
}

test('a view hardlinks every file of the closure, registers it, and links nix/var/result', async (t) => {
  const { store, views, contents, order } = await setup(t);
  await views.materialize(KEY, contents());
  const linked = join(views.nixDir(KEY), `store/${LIB}/bin/run`);
  t.is((await stat(linked)).ino, (await stat(join(store, LIB, 'bin/run'))).ino);
  t.is(await readFile(linked, 'utf8'), `#!/bin/sh\necho ${LIB}\n`);
  t.is(await readlink(join(views.nixDir(KEY), 'var/result')), `/nix/store/${APP}`);
  t.deepEqual(order, ['register']);
  t.deepEqual(await views.list(), [KEY]);
  t.deepEqual(await views.rootsOf(KEY), [`/nix/store/${APP}`]);
});

test('several roots: nix/var/result is a directory of links named after them, and rootsOf reads them back', async (t) => {
  const { views, contents } = await setup(t);
  await views.materialize(KEY, contents([`/nix/store/${APP}`, `/nix/store/${LIB}`]));
  t.true((await lstat(join(views.nixDir(KEY), 'var/result'))).isDirectory());
  t.is((await readdir(join(views.nixDir(KEY), 'var/result'))).length, 2);
  t.deepEqual((await views.rootsOf(KEY)).sort(), [`/nix/store/${APP}`, `/nix/store/${LIB}`]);
});

test('a failure while linking the result is an error, never taken for a view another process finished', async (t) => {
  const { dir, views, contents } = await setup(t);
  // A root whose name is empty would be linked over the result directory itself (EEXIST).
  await t.throwsAsync(views.materialize(KEY, contents([`/nix/store/${APP}`, '/nix/store/x'])), { code: 'EEXIST' });
  t.deepEqual(await readdir(join(dir, 'state/views')), []);
});

test('a failed build leaves nothing; removal goes through a .deleting- name; leftovers of another process are swept', async (t) => {
  const { dir, views, contents } = await setup(t);
  const failing = contents();
  await t.throwsAsync(views.materialize(KEY, { ...failing, register: async () => { throw new Error('registration failed'); } }), { message: 'registration failed' });
  t.deepEqual(await readdir(join(dir, 'state/views')), []);

  await views.materialize(KEY, contents());
  await views.remove(KEY);
  t.deepEqual(await readdir(join(dir, 'state/views')), []);

  const leftover = join(dir, 'state/views', `.building-${KEY}-0badc0de`);
  await mkdir(join(leftover, 'nix/store/x'), { recursive: true });
  t.deepEqual(await views.sweepLeftovers(), { removed: [`.building-${KEY}-0badc0de`], left: [] });
  t.deepEqual(await readdir(join(dir, 'state/views')), []);
});

test('a sweep never takes a view this process is building', async (t) => {
  const { dir, views, contents } = await setup(t);
  let sweptDuringBuild: unknown;
  await views.materialize(KEY, {
    ...contents(),
    register: async (rootDir) => {
      await mkdir(join(rootDir, 'nix/var/nix/db'), { recursive: true });
      sweptDuringBuild = await views.sweepLeftovers();
    },
  });
  t.deepEqual(sweptDuringBuild, { removed: [], left: [] });
  t.deepEqual(await readdir(join(dir, 'state/views')), [KEY]);
});
