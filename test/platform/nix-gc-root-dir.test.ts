import 'reflect-metadata';
import test from 'ava';
import { mkdir, readdir, readlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NixCliStore } from '../../src/platform/nix-cli-store.js';
import type { ProcessRunner } from '../../src/platform/process-runner.js';
import { tempDir } from '../helpers/temp.js';

const APP = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app';
const LIB = '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib';

// GC roots are plain symlinks: none of these calls runs a command.
const noCommands: ProcessRunner = {
  run: async (command) => {
    throw new Error(`no command expected, got ${command}`);
  },
};

function storeOf(root: string, stateDir: string): NixCliStore {
  return new NixCliStore(noCommands, { storeUri: `local?root=${root}`, connectTimeoutSec: 2 }, {
    driverName: 'd', driverVersion: '0', nodeId: 'n', stateDir, viewIdleMs: 0,
  });
}

async function exists(path: string): Promise<boolean> {
  return readdir(path).then(() => true, () => false);
}

test('a state dir’s GC-root directory goes with its last root; another state dir’s and the shared parent stay', async (t) => {
  const root = await tempDir(t);
  const ours = storeOf(root, '/state/a');
  const theirs = storeOf(root, '/state/b');
  await theirs.addGcRoots('v3', [APP]);
  await ours.addGcRoots('v1', [APP, LIB]);
  await ours.addGcRoots('v2', [LIB]);

  await ours.removeGcRoots('v1');
  t.deepEqual(await readdir(ours.gcRootDir()), ['v2-0'], 'a root of another view keeps the directory');
  await ours.removeGcRoots('v2');
  t.false(await exists(ours.gcRootDir()), 'no directory once its last root is gone');
  t.deepEqual(await readdir(theirs.gcRootDir()), ['v3-0']);
  t.true(await exists(dirname(ours.gcRootDir())));

  // The next root makes it again.
  await ours.addGcRoots('v2', [LIB]);
  t.is(await readlink(join(ours.gcRootDir(), 'v2-0')), LIB);
});

test('a start finding its GC-root directory empty removes it', async (t) => {
  const root = await tempDir(t);
  const nix = storeOf(root, '/state/a');
  await mkdir(nix.gcRootDir(), { recursive: true });
  t.deepEqual(await nix.gcRootHolders(), []);
  t.false(await exists(nix.gcRootDir()));
});

test('a root added while another view drops the last one is never lost', async (t) => {
  t.timeout(60_000);
  const root = await tempDir(t);
  const nix = storeOf(root, '/state/a');
  for (let round = 0; round < 300; round++) {
    await nix.addGcRoots('going', [APP]);
    await Promise.all([nix.removeGcRoots('going'), nix.addGcRoots('coming', [LIB])]);
    t.is(await readlink(join(nix.gcRootDir(), 'coming-0')).catch(() => 'missing'), LIB, `round ${round}`);
    await nix.removeGcRoots('coming');
  }
  t.false(await exists(nix.gcRootDir()));
});
