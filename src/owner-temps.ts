import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The exact names the state-dir lock writes its pid under before renaming it into place. */
const OWNER_TEMP = /^\.owner\.pid\.[0-9a-f]{12}$/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the `.owner.pid.*` files whose writer died between writing and renaming one.
 * Called by the state dir's owner only, so no live owner is writing one; a file naming
 * another live process (a nixmount that locked by the older pid file, or a reused pid) is
 * left. One naming this process is a dead writer's too: in a container every start gets
 * the same pid, and this process writes its own only after the sweep. A file with no pid
 * lost its writer before the write.
 */
export async function sweepOwnerTemps(stateDir: string): Promise<number> {
  const names = (await readdir(stateDir).catch(() => [] as string[])).filter((name) => OWNER_TEMP.test(name));
  let removed = 0;
  for (const name of names) {
    const path = join(stateDir, name);
    const writer = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(writer) && writer > 0 && writer !== process.pid && alive(writer)) continue;
    if (await unlink(path).then(() => true, () => false)) removed++;
  }
  return removed;
}
