import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyedMutex } from '../core/keyed-mutex.js';
import type { MountHelper } from './mount-helper.js';
import { pathMount, type PathMount } from './mountinfo.js';

// Mounts of ours stacked at one scratch point (orphaned `mount`s of a killed plugin) come off one by one.
const MAX_STACK = 8;

/**
 * One read-only bind per view (and set of extra mount flags), kept in the scratch
 * directory `<state>/.mounting/<viewKey>[-<flags hash>]` for as long as the view
 * lives, so a read-only publish is one `mount --bind <that bind> <target>`: a new
 * mount copies its source's flags, and so does every copy of it that propagates to
 * a peer (util-linux's `-o bind,ro` is a bind and then a remount, and remounts do
 * not propagate). Unmounting the bind later never touches the targets bound from it.
 *
 * What is kept is only a cache: a target bound from it is proven to show the view
 * read-only (or unbound, and the bind made again), anything found at a scratch point
 * is unmounted before a new bind is made there, and a start sweeps them all.
 */
export class ReadOnlyBinds {
  private readonly made = new Map<string, PathMount>();
  private readonly perName = new KeyedMutex();

  constructor(
    private readonly helper: MountHelper,
    private readonly scratchDir: string,
  ) {}

  /**
   * The read-only bind of `viewKey`'s `source` with `extraFlags`, made if this process
   * has none; answers its path and the mount it made. Not checked again here: the
   * caller proves what each target it binds from it shows (see LinuxMounter).
   */
  ensure(viewKey: string, source: string, extraFlags: readonly string[], tree = false): Promise<{ path: string; mount: PathMount }> {
    const name = bindName(viewKey, extraFlags);
    const path = join(this.scratchDir, name);
    const known = this.made.get(name);
    if (known) return Promise.resolve({ path, mount: known });
    return this.perName.run(name, async () => {
      const made = this.made.get(name); // made by a call that held the lock before this one
      if (made) return { path, mount: made };
      await mkdir(path, { recursive: true });
      if (!(await lstat(path)).isDirectory()) throw new Error(`${path} is not a directory`); // never mount through a symlink
      await this.clear(path);
      try {
        // A bind farm's tree comes whole (its per-path binds are read-only already); a hardlink view is one bind.
        if (tree) await this.helper.bindTreeReadOnly(source, path, extraFlags);
        else await this.helper.bindReadOnly(source, path, extraFlags);
        const mount = await pathMount(path);
        const view = await lstat(source, { bigint: true });
        if (!mount || mount.ino !== view.ino || mount.dev !== view.dev) throw new Error(`${path} does not show ${source} after mounting it`);
        this.made.set(name, mount);
        return { path, mount };
      } catch (error) {
        // A bind whose remount failed would be read-write: it never stays.
        await this.clear(path).catch(() => undefined);
        throw error;
      }
    });
  }

  /** Whether the bind this process made for `viewKey` and `extraFlags` is still the mount at its point. */
  async isStillMounted(viewKey: string, extraFlags: readonly string[]): Promise<boolean> {
    const name = bindName(viewKey, extraFlags);
    const known = this.made.get(name);
    if (!known) return false;
    const here = await pathMount(join(this.scratchDir, name)).catch(() => undefined);
    return here !== undefined && here.mountId === known.mountId;
  }

  /** The bind at `name` is no longer trusted (a target bound from it did not show the view). */
  forget(viewKey: string, extraFlags: readonly string[]): void {
    this.made.delete(bindName(viewKey, extraFlags));
  }

  /** Unmounts and removes every read-only bind of `viewKey` (before its view is removed). */
  async release(viewKey: string): Promise<void> {
    const names = (await readdir(this.scratchDir).catch(() => [] as string[])).filter((name) => name === viewKey || name.startsWith(`${viewKey}-`));
    for (const name of names) {
      await this.perName.run(name, async () => {
        this.made.delete(name);
        const path = join(this.scratchDir, name);
        await this.clear(path);
        await rmdir(path).catch(() => undefined);
      });
    }
  }

  /** Everything was unmounted by a sweep. */
  forgetAll(): void {
    this.made.clear();
  }

  /** Unmounts whatever is mounted at `path` (a point in the scratch dir, where anything mounted is ours). */
  private async clear(path: string): Promise<void> {
    for (let i = 0; i < MAX_STACK; i++) {
      const [here, parent] = await Promise.all([pathMount(path), pathMount(this.scratchDir)]);
      if (!here || !parent || here.mountId === parent.mountId) return;
      if (here.symlink) throw new Error(`${path} is a symlink`);
      // A bind farm's tree is busy with its own binds: detached whole (nothing uses a kept bind but the binds made from it, which stay).
      await this.helper.unmount(path).catch(() => this.helper.unmountTree(path));
    }
    throw new Error(`${path} still holds mounts after ${MAX_STACK} unmounts`);
  }
}

/** `<viewKey>` without extra flags; `<viewKey>-<hash of the sorted flags>` with them. */
export function bindName(viewKey: string, extraFlags: readonly string[]): string {
  if (extraFlags.length === 0) return viewKey;
  return `${viewKey}-${createHash('sha256').update([...extraFlags].sort().join(',')).digest('hex').slice(0, 16)}`;
}

/** A name `bindName` gives (32 hex digits of a view key, maybe a flags hash). */
export function isKeptBindName(name: string): boolean {
  return /^[0-9a-f]{32}(?:-[0-9a-f]{16})?$/.test(name);
}
