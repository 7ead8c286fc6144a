import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { usedPercent } from '../core/store-watermarks.js';
import { physicalRoot } from '../platform/nix-settings.js';
import { ok, problem, type Check } from './check.js';
import { nearestExisting } from '../platform/nearest-existing.js';

const NAME = 'disk';
const TIMEOUT_MS = 5_000;
/**
 * Without a store GC high watermark, the percent of the store's filesystem in use that
 * doctor calls a problem: past it, the next large closure may fill the disk mid-realisation.
 */
export const DISK_WARNING_PERCENT = 90;
/** Views are hardlinks (no inodes of their own), but every substituted file takes one. */
const INODE_WARNING_PERCENT = 95;

export interface DiskUsage {
  usedPercent: number;
  freeBytes: number;
  inodesUsedPercent: number | undefined;
}

/**
 * Used space as the store GC counts it (reserved blocks are not free), so "at or above the
 * high watermark" here means what it means to the collector; rounded up.
 */
export function diskUsage(stats: { blocks: number; bfree: number; bavail: number; bsize: number; files: number; ffree: number }): DiskUsage {
  return {
    usedPercent: Math.ceil(usedPercent({ totalBytes: stats.blocks * stats.bsize, availableBytes: stats.bavail * stats.bsize })),
    freeBytes: stats.bavail * stats.bsize,
    // Filesystems without a fixed inode table (btrfs, some tmpfs) say 0 files.
    inodesUsedPercent: stats.files > 0 ? Math.ceil(((stats.files - stats.ffree) * 100) / stats.files) : undefined,
  };
}

function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/**
 * Free space on the store's filesystem against the store GC's high watermark when one is
 * set (a store above it means the GC is failing or cannot free enough), else against a fixed
 * DISK_WARNING_PERCENT.
 */
export function diskCheck(storeUri: string, gcHighPercent: number | undefined): Check {
  const storeDir = join(physicalRoot(storeUri), 'nix/store');
  return {
    name: NAME,
    timeoutMs: TIMEOUT_MS,
    async run() {
      const anchor = await nearestExisting(storeDir);
      const usage = diskUsage(await statfs(anchor.path));
      const limit = gcHighPercent ?? DISK_WARNING_PERCENT;
      const against = gcHighPercent !== undefined ? `the store GC's high watermark (${gcHighPercent}%)` : `${DISK_WARNING_PERCENT}%, with no store GC watermark set`;
      const said = `the store's filesystem (${anchor.path}) is ${usage.usedPercent}% full, ${size(usage.freeBytes)} free`;
      if (usage.usedPercent >= limit) {
        return problem(
          NAME,
          `${said}: at or above ${against}`,
          gcHighPercent !== undefined
            ? 'the store GC cannot free enough: see the plugin\'s log for its runs; remove views no volume uses (nixmount gc), then collect the store (nix-collect-garbage), or grow the filesystem'
            : 'free space: remove views no volume uses (nixmount gc), then collect the store (nix-collect-garbage, which spares what views root), or grow the filesystem',
        );
      }
      if (usage.inodesUsedPercent !== undefined && usage.inodesUsedPercent >= INODE_WARNING_PERCENT) {
        return problem(NAME, `${said}, but ${usage.inodesUsedPercent}% of its inodes are used`, 'collect the store (nix-collect-garbage) or grow the filesystem\'s inode table');
      }
      return ok(NAME, `${said}; below ${against}`);
    },
  };
}
