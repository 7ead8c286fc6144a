import { mkdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './commands.js';
import { timed } from './stats.js';

/**
 * The physical floor of a cold publish: hardlink the closure with `cp -al` (what a
 * view is made of), nothing else. Returns the time; the copy is removed untimed.
 */
export async function hardlinkCopy(paths: readonly string[], dir: string): Promise<number> {
  const store = join(dir, 'nix/store');
  await mkdir(store, { recursive: true });
  try {
    const { ms } = await timed(() => run('cp', ['-al', ...paths, store]));
    return ms;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The floor of a warm publish: create the target and bind-mount an existing view.
 * The floor of an unpublish (umount, rmdir) is timed into `unbinds` when given.
 */
export async function bareBind(source: string, target: string, unbinds?: number[]): Promise<number> {
  let bound = false;
  try {
    const { ms } = await timed(async () => {
      await mkdir(target);
      await run('mount', ['--bind', source, target]);
    });
    bound = true;
    return ms;
  } finally {
    const { ms } = await timed(async () => {
      await run('umount', [target]).catch(() => undefined);
      await rmdir(target).catch(() => undefined);
    });
    if (bound) unbinds?.push(ms);
  }
}
