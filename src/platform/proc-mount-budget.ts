import { readFile } from 'node:fs/promises';
import { inject, injectable } from 'inversify';
import type { MountBudget, MountCount } from '../core/ports/mount-budget.js';
import { NodeSettings } from '../core/settings.js';

/** Linux's default fs.mount-max, used when the file cannot be read. */
export const DEFAULT_MOUNT_MAX = 100_000;
/**
 * A reading is reused this long: counting a table of 100,000 mounts takes tens of
 * milliseconds, which a warm publish must not pay each time. What the node adds
 * meanwhile is what the headroom is for (view-presentation.ts).
 */
const REUSE_MS = 1_000;

/**
 * fs.mount-max (from --mount-max-file, /proc/sys/fs/mount-max by default) against the
 * lines of /proc/self/mountinfo: the limit and the count of the mount namespace the
 * plugin and its volumes' mounts live in.
 */
@injectable()
export class ProcMountBudget implements MountBudget {
  private readonly maxFile: string;
  private last?: { at: number; count: Promise<MountCount> };

  constructor(@inject(NodeSettings) settings: NodeSettings) {
    this.maxFile = settings.mountMaxFile ?? '/proc/sys/fs/mount-max';
  }

  count(): Promise<MountCount> {
    const now = Date.now();
    if (this.last && now - this.last.at < REUSE_MS) return this.last.count;
    const count = read(this.maxFile);
    this.last = { at: now, count };
    count.catch(() => (this.last = undefined));
    return count;
  }
}

async function read(maxFile: string): Promise<MountCount> {
  const [maxText, table] = await Promise.all([readFile(maxFile, 'utf8').catch(() => undefined), readFile('/proc/self/mountinfo')]);
  const parsed = maxText === undefined ? NaN : Number.parseInt(maxText.trim(), 10);
  let used = 0;
  for (let at = table.indexOf(10); at >= 0; at = table.indexOf(10, at + 1)) used++;
  return { max: Number.isFinite(parsed) && parsed > 0 ? parsed : DEFAULT_MOUNT_MAX, used };
}
