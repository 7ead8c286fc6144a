import { lstat, mkdir, readdir, readlink, realpath, rm, rmdir, statfs } from 'node:fs/promises';
import { closeSync, constants, open as openCallback, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { inject, injectable } from 'inversify';
import { AbortedError, FailedPreconditionError, InvalidArgumentError } from '../core/errors.js';
import { quote } from '../core/quote.js';
import type { MountPoint } from '../core/ports/mounter.js';
import type { HeldParent, HeldTarget, VolumeDirs, VolumeUsage } from '../core/ports/volume-dirs.js';
import { NodeSettings } from '../core/settings.js';

function kindOf(stats: Stats): string {
  if (stats.isSymbolicLink()) return 'a symlink';
  if (stats.isFile()) return 'a file';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a directory';
}

// Linux's O_PATH: a handle that names a directory without opening it for reading.
const O_PATH = 0o10000000;
const openFd = promisify(openCallback) as (path: string, flags: number) => Promise<number>;

/** The path that names an fd of this process, for this process and the helpers it runs alike. */
function fdLink(fd: number): string {
  return `/proc/${process.pid}/fd/${fd}`;
}

/** Mount points and overlay directories (<state>/overlays/<volume-key>/{upper,work}). */
@injectable()
export class FsVolumeDirs implements VolumeDirs {
  private readonly overlays: string;

  constructor(@inject(NodeSettings) settings: NodeSettings) {
    this.overlays = join(settings.stateDir, 'overlays');
  }

  /**
   * The parent is opened with O_PATH (a handle, no read access needed) and every later
   * step goes through `/proc/<pid>/fd/<n>/<name>`: the kernel resolves the fd link to
   * exactly the held directory, then looks up `name` in it alone, so whatever is renamed
   * or swapped for a symlink above it since the adapter checked the path, nothing lands
   * elsewhere. The pid is the plugin's own, not `self`: the mount helper and util-linux
   * are other processes and resolve the same links. The target itself is held once made
   * (O_NOFOLLOW: a symlink planted as the target is refused) and mounted on through its
   * own fd link, so a swap of the target after its creation cannot redirect the mount.
   */
  async holdTarget(targetPath: string): Promise<HeldTarget> {
    let parent: number;
    try {
      parent = await openFd(dirname(targetPath), O_PATH | constants.O_DIRECTORY);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // The orchestrator creates the parent; without it the request is premature or wrong.
      if (code === 'ENOENT') throw new FailedPreconditionError(`the parent directory of target_path ${targetPath} does not exist`);
      if (code === 'ENOTDIR') throw new FailedPreconditionError(`a parent of ${targetPath} is not a directory`);
      throw error;
    }
    const fds = [parent];
    const path = `${fdLink(parent)}/${basename(targetPath)}`;
    const held = await readlink(fdLink(parent)).catch(() => undefined);
    const create = async (): Promise<{ created: boolean; mountPoint: MountPoint }> => {
      // The workload would be handed the path, not the held directory: a path that no longer
      // leads there (a directory on it swapped for a symlink since) is refused, and nothing
      // is made. A swap after this check only moves the held directory's new name away.
      const now = await realpath(dirname(targetPath)).catch(() => undefined);
      if (held === undefined || now !== held) {
        throw new InvalidArgumentError(
          `target_path: ${quote(targetPath)} now resolves to ${now === undefined ? 'nothing' : quote(`${now}/${basename(targetPath)}`)}, not the directory checked when the request came (${quote(held ?? '?')}): a directory on it was swapped for a symlink or moved; nixmount never follows links in target or staging paths`,
        );
      }
      let created = false;
      try {
        await mkdir(path, { mode: 0o755 });
        created = true;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new FailedPreconditionError(`the parent directory of target_path ${targetPath} was removed during the publish`);
        if (code !== 'EEXIST') throw error;
      }
      let target: number;
      try {
        target = await openFd(path, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      } catch (error) {
        if (created) await rmdir(path).catch(() => undefined);
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTDIR' && code !== 'ELOOP') throw error;
        // Only a real directory is mounted on: never a file, a device or a symlink to elsewhere.
        const existing = await lstat(path);
        throw new FailedPreconditionError(`${targetPath} exists and is not a directory (${kindOf(existing)}); nixmount mounts on directories only`);
      }
      fds.push(target);
      return { created, mountPoint: { path, at: fdLink(target) } };
    };
    return {
      path,
      create,
      release: () => {
        for (const fd of fds.splice(0)) closeSync(fd);
      },
    };
  }

  /**
   * The parent is opened as for a publish (O_PATH) and must be the directory the path led
   * to when it was checked (or, not told that, where it leads now):
   * from then on the ownership check, the unmount (umount2 through the fd link, whose
   * last component alone is not followed) and the rmdir look up the target in that
   * directory alone, so a parent swapped for a symlink after this cannot send any of
   * them elsewhere. A parent that is not a directory (or is gone) holds no mount.
   */
  async holdExisting(targetPath: string, expectedAt?: string): Promise<HeldParent | undefined> {
    let parent: number;
    try {
      parent = await openFd(dirname(targetPath), O_PATH | constants.O_DIRECTORY);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw error;
    }
    const [held, now] = await Promise.all([readlink(fdLink(parent)).catch(() => undefined), expectedAt ?? realpath(dirname(targetPath)).catch(() => undefined)]);
    if (held === undefined || now !== held) {
      closeSync(parent);
      throw new AbortedError(`${quote(targetPath)} changed while its unpublish began (a directory on it was swapped for a symlink or moved); nothing was unmounted; retry`);
    }
    return { path: `${fdLink(parent)}/${basename(targetPath)}`, release: () => closeSync(parent) };
  }

  async removeTarget(targetPath: string): Promise<void> {
    try {
      await rmdir(targetPath); // refuses a non-empty directory: we never delete what is in a target
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw error;
    }
  }

  async createOverlay(key: string, lower: string): Promise<{ dir: string; lower: string; upper: string; work: string }> {
    const dir = join(this.overlays, key);
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(dir, 'upper'), { recursive: true });
    await mkdir(join(dir, 'work'), { recursive: true });
    return { dir, lower, upper: join(dir, 'upper'), work: join(dir, 'work') };
  }

  async removeOverlay(key: string): Promise<void> {
    await rm(join(this.overlays, key), { recursive: true, force: true });
  }

  async listOverlays(): Promise<string[]> {
    try {
      return await readdir(this.overlays);
    } catch {
      return [];
    }
  }

  async usage(path: string): Promise<VolumeUsage> {
    const stats = await statfs(path);
    const bytesTotal = stats.blocks * stats.bsize;
    const bytesAvailable = stats.bavail * stats.bsize;
    return {
      bytesTotal,
      bytesAvailable,
      bytesUsed: bytesTotal - stats.bfree * stats.bsize,
      inodesTotal: stats.files,
      inodesFree: stats.ffree,
      inodesUsed: stats.files - stats.ffree,
    };
  }
}
