import { readFile } from 'node:fs/promises';
import { inject, injectable } from 'inversify';
import type { MountBudget, MountCount } from '../core/ports/mount-budget.js';
import { NodeSettings } from '../core/settings.js';

/** Linux's default fs.mount-max, used when the file cannot be read. */
export const DEFAULT_MOUNT_MAX = 100_000;
/**
 * A reading is reused this long: counting a table of 100,000 mounts takes tens of
 * milliseconds, which a warm publish must not pay each time. Claims cover what the
 * node's own publishes add meanwhile; the headroom covers everything else.
 */
const REUSE_MS = 1_000;
/**
 * A claim said done still counts in readings begun less than this after: its caller may
 * make the last of its mounts (a volume's own bind of a farm) just after it.
 */
const SETTLE_MS = 1_000;

interface Reading extends MountCount {
  /** When the table was read (its start: mounts made after may be missing from it). */
  at: number;
}

/**
 * fs.mount-max (from --mount-max-file, /proc/sys/fs/mount-max by default) against the
 * lines of /proc/self/mountinfo: the limit and the count of the mount namespace the
 * plugin and its volumes' mounts live in, plus the mounts claimed that the reading in
 * use cannot have seen yet.
 */
@injectable()
export class ProcMountBudget implements MountBudget {
  private readonly maxFile: string;
  private last?: { at: number; reading: Promise<Reading> };
  private outstanding = 0;
  private settled: Array<{ at: number; mounts: number }> = [];

  constructor(@inject(NodeSettings) settings: NodeSettings) {
    this.maxFile = settings.mountMaxFile ?? '/proc/sys/fs/mount-max';
  }

  async count(): Promise<MountCount> {
    const reading = await this.reading();
    // Computed when the caller resumes, so a claim made since the reading is counted.
    this.settled = this.settled.filter((claim) => claim.at + SETTLE_MS > reading.at);
    const unseen = this.outstanding + this.settled.reduce((sum, claim) => sum + claim.mounts, 0);
    return { max: reading.max, used: reading.used + unseen };
  }

  claim(mounts: number): () => void {
    this.outstanding += mounts;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.outstanding -= mounts;
      this.settled.push({ at: Date.now(), mounts });
    };
  }

  private reading(): Promise<Reading> {
    const now = Date.now();
    if (this.last && now - this.last.at < REUSE_MS) return this.last.reading;
    const reading = read(this.maxFile, now);
    this.last = { at: now, reading };
    reading.catch(() => (this.last = undefined));
    return reading;
  }
}

async function read(maxFile: string, at: number): Promise<Reading> {
  const [maxText, table] = await Promise.all([readFile(maxFile, 'utf8').catch(() => undefined), readFile('/proc/self/mountinfo')]);
  const parsed = maxText === undefined ? NaN : Number.parseInt(maxText.trim(), 10);
  let used = 0;
  for (let index = table.indexOf(10); index >= 0; index = table.indexOf(10, index + 1)) used++;
  return { max: Number.isFinite(parsed) && parsed > 0 ? parsed : DEFAULT_MOUNT_MAX, used, at };
}
