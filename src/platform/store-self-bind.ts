import { join, relative } from 'node:path';
import type { MountEntry } from './mountinfo.js';

export type StoreMountPlan =
  | { action: 'none'; reason: string }
  | { action: 'self-bind'; count: number }
  | { action: 'keep'; reason: string };

/**
 * What the mounts at `storeDir` are, from a mount table (pure, so it is tested on any table):
 * none; only binds of the very directory they cover (NixOS's read-only bind of /nix/store),
 * which views reach around through a second, non-recursive bind of the store's parent (see
 * store-link-namespace.ts); or another filesystem or directory over it, which nothing can.
 */
export function planStoreMount(entries: readonly MountEntry[], storeDir: string): StoreMountPlan {
  const stack = entries.filter((e) => e.mountPoint === storeDir);
  if (stack.length === 0) return { action: 'none', reason: `${storeDir} is not a mount point` };
  const parent = entries
    .filter((e) => e.mountPoint !== storeDir && (e.mountPoint === '/' || storeDir.startsWith(`${e.mountPoint}/`)))
    .reduce<MountEntry | undefined>((best, e) => (!best || e.mountPoint.length >= best.mountPoint.length ? e : best), undefined);
  if (!parent) return { action: 'keep', reason: `no mount holds the directory under ${storeDir}` };
  const covered = join(parent.root, relative(parent.mountPoint === '/' ? '/' : parent.mountPoint, storeDir));
  for (const entry of stack) {
    const selfBind = entry.device === parent.device && entry.source === parent.source && entry.fsType === parent.fsType && entry.root === covered;
    if (!selfBind) {
      return {
        action: 'keep',
        reason: `${storeDir} is ${entry.fsType} ${entry.source}:${entry.root} mounted over ${parent.source}:${covered}, not a bind of that directory itself; views cannot hardlink into it`,
      };
    }
  }
  return { action: 'self-bind', count: stack.length };
}
