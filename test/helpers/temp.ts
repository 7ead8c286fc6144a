import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { unmountBelow } from './mounts.js';

/** A temp dir removed after the test, with every mount below it unmounted first, even on failure. */
export async function tempDir(t: ExecutionContext, prefix = 'nixmount-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(async () => {
    await unmountBelow(dir);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}
