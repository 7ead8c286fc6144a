import { lstat, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';

type Visit = (path: string, stats: import('node:fs').BigIntStats) => void;

async function walk(path: string, visit: Visit, skip: ReadonlySet<string>): Promise<void> {
  if (skip.has(path)) return;
  const stats = await lstat(path, { bigint: true });
  visit(path, stats);
  if (!stats.isDirectory()) return;
  for (const name of await readdir(path)) await walk(join(path, name), visit, skip);
}

const inodeId = (stats: import('node:fs').BigIntStats) => `${stats.dev}:${stats.ino}`;

/** Every inode of the given node-store paths, to tell shared blocks from new ones. */
export async function storeInodes(paths: readonly string[]): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const path of paths) await walk(path, (_, stats) => inodes.add(inodeId(stats)), new Set());
  return inodes;
}

/**
 * Bytes allocated under `dirs` that the node store does not already hold: each
 * inode counted once, inodes of the store (hardlinks) not at all. Paths in `skip`
 * (mount points) are not entered.
 */
export async function unsharedBytes(dirs: readonly string[], store: ReadonlySet<string>, skip: ReadonlySet<string> = new Set()): Promise<number> {
  const seen = new Set<string>();
  let bytes = 0;
  for (const dir of dirs) {
    await walk(dir, (_, stats) => {
      const id = inodeId(stats);
      if (store.has(id) || seen.has(id)) return;
      seen.add(id);
      bytes += Number(stats.blocks) * 512;
    }, skip);
  }
  return bytes;
}

/**
 * Of the regular files of `paths` as seen under `volumeStoreDir` (the volume's
 * /nix/store), how many are the very inode of the node store's file.
 */
export async function inodeSharing(volumeStoreDir: string, paths: readonly string[]): Promise<{ files: number; shared: number }> {
  let files = 0;
  let shared = 0;
  for (const path of paths) {
    const original = new Map<string, string>();
    await walk(path, (file, stats) => {
      if (stats.isFile()) original.set(file.slice(path.length), inodeId(stats));
    }, new Set());
    const copy = join(volumeStoreDir, basename(path));
    await walk(copy, (file, stats) => {
      if (!stats.isFile()) return;
      files++;
      if (original.get(file.slice(copy.length)) === inodeId(stats)) shared++;
    }, new Set());
  }
  return { files, shared };
}
