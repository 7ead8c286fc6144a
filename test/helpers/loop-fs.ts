import { join } from 'node:path';
import { statfsSync } from 'node:fs';
import { mkdir, statfs } from 'node:fs/promises';
import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { tempDir } from './temp.js';

export interface LoopFilesystem {
  /** Where the filesystem is mounted. */
  mountPoint: string;
  /** The image file backing it. */
  image: string;
}

/**
 * A small ext4 filesystem of its own (an image file on a loop device), mounted for
 * the test and unmounted, its loop device detached, even when the test fails. No
 * blocks reserved for root, so `df`'s use% is what the store GC sees.
 */
export async function loopFilesystem(t: ExecutionContext, sizeMiB: number): Promise<LoopFilesystem> {
  const dir = await tempDir(t, 'nixmount-loopfs-');
  const image = join(dir, 'fs.img');
  const mountPoint = join(dir, 'fs');
  await execa('truncate', ['-s', `${sizeMiB}M`, image]);
  await execa('mkfs.ext4', ['-q', '-m', '0', '-F', image]);
  await mkdir(mountPoint);
  // Registered after tempDir's, so it runs before it: a real unmount and a detach, then tempDir removes the image.
  t.teardown(async () => {
    const unmounted = await execa('umount', [mountPoint], { reject: false });
    if (unmounted.exitCode !== 0) await execa('umount', ['-l', mountPoint], { reject: false });
    const { stdout } = await execa('losetup', ['-j', image], { reject: false });
    for (const line of stdout.split('\n').filter(Boolean)) await execa('losetup', ['-d', line.split(':')[0]!], { reject: false });
  });
  await execa('mount', ['-o', 'loop', image, mountPoint]);
  return { mountPoint, image };
}

/** Size and space left on the filesystem holding `path`, as the store GC reads them. */
export async function spaceOf(path: string): Promise<{ totalBytes: number; availableBytes: number; usedPercent: number }> {
  const stats = await statfs(path);
  const totalBytes = stats.blocks * stats.bsize;
  const availableBytes = stats.bavail * stats.bsize;
  return { totalBytes, availableBytes, usedPercent: ((totalBytes - availableBytes) / totalBytes) * 100 };
}

/** The same, synchronously (to read it at the moment an event is emitted). */
export function spaceOfSync(path: string): { totalBytes: number; availableBytes: number; usedPercent: number } {
  const stats = statfsSync(path);
  const totalBytes = stats.blocks * stats.bsize;
  const availableBytes = stats.bavail * stats.bsize;
  return { totalBytes, availableBytes, usedPercent: ((totalBytes - availableBytes) / totalBytes) * 100 };
}
