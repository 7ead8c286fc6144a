import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * `path` if it exists, else its nearest existing ancestor: serve creates the state dir
 * and the socket dir, and Nix a chroot store's directories on first use, so a fresh node's
 * filesystem is that of where they will be made (doctor's checks, the store GC's statfs).
 */
export async function nearestExisting(path: string): Promise<{ path: string; exists: boolean }> {
  let current = path;
  for (;;) {
    try {
      await stat(current);
      return { path: current, exists: current === path };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || current === dirname(current)) throw error;
      current = dirname(current);
    }
  }
}
