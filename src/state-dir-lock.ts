import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, realpath, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One process at a time owns a state directory: two would build, hold and collect
 * views without seeing each other's leases. A lock left by a dead process is taken over.
 */
const heldHere = new Set<string>();

/** Another live process holds the state directory (callers that may wait retry on this). */
export class StateDirInUseError extends Error {}

export async function lockStateDir(stateDir: string): Promise<() => Promise<void>> {
  await mkdir(stateDir, { recursive: true });
  const file = join(stateDir, 'owner.pid');
  if (heldHere.has(file)) throw new Error(`state directory ${stateDir} is in use by process ${process.pid} (this one)`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      // Written aside and linked into place: the lock file never exists without its pid
      // (a racing process reading an empty file would take it for a dead owner's).
      const temp = join(stateDir, `.owner.pid.${randomBytes(6).toString('hex')}`);
      await writeFile(temp, `${process.pid}\n`);
      try {
        await link(temp, file);
      } finally {
        await unlink(temp).catch(() => undefined);
      }
      heldHere.add(file);
      return async () => {
        heldHere.delete(file);
        await unlink(file).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (owner && owner !== process.pid && alive(owner)) {
        throw new StateDirInUseError(`state directory ${stateDir} is in use by process ${owner} (a running nixmount serve?)`);
      }
      await unlink(file).catch(() => undefined);
    }
  }
  throw new Error(`could not lock state directory ${stateDir}`);
}

/**
 * The state directory as the kernel names it (no symlink, no trailing slash): the mount
 * table and the GC-root directory are compared and keyed by it, so `/x/state/`, `/x/state`
 * and a symlink to it are one node.
 */
export async function canonicalStateDir(stateDir: string): Promise<string> {
  await mkdir(stateDir, { recursive: true });
  return realpath(stateDir);
}
