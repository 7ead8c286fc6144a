import test from 'ava';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { Readiness } from '../../src/csi/readiness.js';
import type { NixStore } from '../../src/core/ports/nix-store.js';
import { silentLogger } from '../helpers/fakes.js';
import { tempDir } from '../helpers/temp.js';

function countingNix(): { nix: NixStore; calls: () => number; fail: (yes: boolean) => void } {
  let calls = 0;
  let failing = false;
  const nix = {
    check: async () => {
      calls += 1;
      if (failing) throw new Error('nix is gone');
    },
  } as unknown as NixStore;
  return { nix, calls: () => calls, fail: (yes) => (failing = yes) };
}

/** A small tmpfs as the state dir, so it can be remounted read-only or filled. */
async function tmpfsStateDir(t: import('ava').ExecutionContext): Promise<string> {
  const dir = join(await tempDir(t), 'state');
  await mkdir(dir);
  await execa('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir]);
  return dir;
}

// Finding 12: Probe kept answering ready for 10 s after the state dir became read-only.
test('not ready at once when the state dir becomes read-only, ready again when it is writable; no probe file left', async (t) => {
  const stateDir = await tmpfsStateDir(t);
  const { nix, calls } = countingNix();
  const readiness = new Readiness(nix, stateDir, silentLogger);
  t.true(await readiness.ready());
  await execa('mount', ['-o', 'remount,ro', stateDir]);
  t.false(await readiness.ready());
  await execa('mount', ['-o', 'remount,rw', stateDir]);
  t.true(await readiness.ready());
  t.deepEqual(await readdir(stateDir), []);
  // The Nix check is the expensive one: asked once within its cache period.
  t.is(calls(), 1);
});

test('not ready when the state dir is full (ENOSPC)', async (t) => {
  const stateDir = await tmpfsStateDir(t);
  const readiness = new Readiness(countingNix().nix, stateDir, silentLogger);
  t.true(await readiness.ready());
  await writeFile(join(stateDir, 'filler'), Buffer.alloc(256 * 1024)).catch(() => undefined);
  // tmpfs may accept a few bytes in a partly used page; fill whatever is left.
  for (let i = 0; i < 64; i++) await writeFile(join(stateDir, `f${i}`), Buffer.alloc(4096)).catch(() => undefined);
  t.false(await readiness.ready());
  t.deepEqual((await readdir(stateDir)).filter((name) => name.startsWith('.probe')), []);
});

test('not ready while Nix fails; that answer is cached like a good one', async (t) => {
  const stateDir = join(await tempDir(t), 'state');
  const { nix, calls, fail } = countingNix();
  fail(true);
  const readiness = new Readiness(nix, stateDir, silentLogger);
  t.false(await readiness.ready());
  t.false(await readiness.ready());
  t.is(calls(), 1);
});
