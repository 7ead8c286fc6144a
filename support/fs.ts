import { lstat } from 'node:fs/promises';

/** Whether anything (a file, a directory, a dangling link) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
