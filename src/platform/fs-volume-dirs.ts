import { lstat, mkdir, readdir, rm, rmdir, statfs } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import { FailedPreconditionError } from '../core/errors.js';
import type { VolumeDirs, VolumeUsage } from '../core/ports/volume-dirs.js';
import { NodeSettings } from '../core/settings.js';

function kindOf(stats: Stats): string {
  if (stats.isSymbolicLink()) return 'a symlink';
  if (stats.isFile()) return 'a file';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a directory';
}

/** Mount points and overlay directories (<state>/overlays/<volume-key>/{upper,work}). */
@injectable()
export class FsVolumeDirs implements VolumeDirs {
  private readonly overlays: string;

  constructor(@inject(NodeSettings) settings: NodeSettings) {
    this.overlays = join(settings.stateDir, 'overlays');
  }

  async createTarget(targetPath: string): Promise<boolean> {
    try {
      await mkdir(targetPath, { mode: 0o755 });
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        // Only a real directory is mounted on: never a file, a device or a symlink to elsewhere.
        const existing = await lstat(targetPath);
        if (!existing.isDirectory()) {
          throw new FailedPreconditionError(`${targetPath} exists and is not a directory (${kindOf(existing)}); nixmount mounts on directories only`);
        }
        return false;
      }
      if (code === 'ENOTDIR') {
        throw new FailedPreconditionError(`a parent of ${targetPath} is not a directory`);
      }
      if (code === 'ENOENT') {
        // The orchestrator creates the parent; without it the request is premature or wrong.
        throw new FailedPreconditionError(`the parent directory of target_path ${targetPath} does not exist`);
      }
      throw error;
    }
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
