import test from 'ava';
import { createHash } from 'node:crypto';
import { chmod, cp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { mountsBelow } from '../helpers/mounts.js';
import { nixEnv } from '../helpers/nix.js';
import { CLI } from '../helpers/serve-process.js';
import { tempDir } from '../helpers/temp.js';
import { docFiles, fencedBlocks, isRunnable, readDoc, REPO } from './markdown.js';

// Every fenced block marked `sh runnable` in README.md and docs/*.md runs here, as a
// reader would paste it, so a command the docs show cannot silently stop working.
// The rules a marked block follows are in docs/architecture.md, "Runnable docs".

const BLOCK_TIMEOUT_MS = 120_000;
/** What a block sees in its working directory: the paths the docs name, copied so nothing reaches the checkout. */
const COPIED = ['jobs', 'manifests', 'test/fixtures'];

const marked = docFiles().flatMap((file) =>
  fencedBlocks(readDoc(file))
    .filter(isRunnable)
    .map((block) => ({ file, ...block })),
);

/** Where nixmount keeps the GC roots of a state dir (src/platform/nix-cli-store.ts), to check none is left. */
function gcRootsOf(stateDir: string): string {
  return join('/nix/var/nix/gcroots/nixmount', createHash('sha256').update(stateDir).digest('hex').slice(0, 16));
}

/** Runs a block in its own process group, so a timeout kills every command it started. */
async function run(body: string, cwd: string, bin: string) {
  const child = execa('bash', ['-euo', 'pipefail', '-c', body], {
    cwd,
    env: { ...nixEnv, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
    detached: true,
    all: true,
    reject: false,
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, BLOCK_TIMEOUT_MS);
  try {
    const result = await child;
    return { exitCode: result.exitCode, output: result.all ?? '', timedOut };
  } finally {
    clearTimeout(timer);
  }
}

test('the docs mark runnable blocks, and only shell blocks', (t) => {
  // The extractor finding nothing would make every other test here vacuous.
  t.true(marked.length >= 8, `found ${marked.length} runnable blocks`);
  t.deepEqual(
    marked.filter((block) => block.lang !== 'sh').map((block) => `${block.file}:${block.line} is marked runnable but is ${block.lang || 'untyped'}, not sh`),
    [],
  );
});

for (const block of marked) {
  test.serial(`${block.file}:${block.line} runs`, async (t) => {
    const dir = await tempDir(t, 'nixmount-docs-');
    const bin = await tempDir(t, 'nixmount-docs-bin-');
    await writeFile(join(bin, 'nixmount'), `#!/bin/sh\nexec node ${CLI} "$@"\n`);
    await chmod(join(bin, 'nixmount'), 0o755);
    for (const path of COPIED) await cp(join(REPO, path), join(dir, path), { recursive: true });
    const roots = gcRootsOf(join(dir, 'state'));
    t.teardown(() => rm(roots, { recursive: true, force: true }));

    const result = await run(block.body, dir, bin);

    t.false(result.timedOut, `still running after ${BLOCK_TIMEOUT_MS / 1000} s:\n${result.output}`);
    t.is(result.exitCode, 0, `${block.body}\n--- output:\n${result.output}`);
    t.deepEqual(await mountsBelow(dir), [], 'the block left mounts behind: it must unpublish what it publishes');
    if (existsSync(roots)) t.deepEqual(await readdir(roots), [], 'the block left GC roots behind: it must `nixmount gc` its views');
  });
}
