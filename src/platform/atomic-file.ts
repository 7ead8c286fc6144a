import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes `path` so that readers see the old or the new content, never a mix: temp file, fsync, rename, fsync dir. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  await replaceFile(path, content);
  await syncDirectory(dirname(path));
}

/**
 * The first part of `writeFileAtomic`: temp file, fsync, rename. Every process sees the
 * new content from here on; only a power loss could still undo the rename until the
 * directory is synced (`syncDirectory`), which a caller may overlap with other work.
 */
export async function replaceFile(path: string, content: string): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined); // a full disk must not also keep half a record
    throw withPath(error, path);
  }
}

/** Errors of writes through a file handle (ENOSPC, EIO) carry no path; the caller's message needs one. */
function withPath(error: unknown, path: string): unknown {
  const errno = error as NodeJS.ErrnoException;
  if (errno && typeof errno === 'object' && errno.code && !errno.path) errno.path = path;
  return error;
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
