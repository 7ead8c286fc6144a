import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * `path` if it exists, else its nearest existing ancestor: serve creates the state dir,
 * the socket dir and (through Nix) the store, so a fresh node is judged by where they will be made.
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
