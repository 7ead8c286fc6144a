import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes `path` so that readers see the old or the new content, never a mix: temp file, fsync, rename, fsync dir. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
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
  await syncDirectory(dirname(path));
}

/**
 * `writeFileAtomic` in two steps, for a caller with work to overlap with the disk: it
 * resolves once `path` holds the whole new content for every process (temp file
 * written, renamed into place), with `durable`, which settles once the file and its
 * directory are synced. Until then only a power loss could undo it (leaving the old
 * file, no file, or an empty one, which a reader must set aside), so whatever the
 * caller acknowledges after `durable` is as durable as with writeFileAtomic.
 * With `sync: false` nothing is synced (`durable` only closes the file): the
 * content survives a crash of the process, not a power loss.
 */
export async function replaceFile(path: string, content: string, options: { sync: boolean } = { sync: true }): Promise<{ durable: Promise<void> }> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(content);
    await rename(temp, path);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined); // a full disk must not also keep half a record
    throw withPath(error, path);
  }
  if (!options.sync) return { durable: handle.close() };
  const durable = Promise.all([
    handle.sync().finally(() => handle.close()),
    syncDirectory(dirname(path)),
  ]).then(
    () => undefined,
    (error: unknown) => {
      throw withPath(error, path);
    },
  );
  return { durable };
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
