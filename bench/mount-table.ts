import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readMountInfo } from '../src/platform/mountinfo.js';

const execFileAsync = promisify(execFile);

/** Mount points at or below `prefix` (as the mount table lists them, parents first). */
export async function mountsBelow(prefix: string): Promise<string[]> {
  const entries = await readMountInfo();
  return entries.map((entry) => entry.mountPoint).filter((point) => point === prefix || point.startsWith(`${prefix}/`));
}

/** Cleanup: unmount everything below `prefix`, deepest first, lazily so a busy mount never blocks it. */
export async function unmountBelow(prefix: string): Promise<void> {
  for (let round = 0; round < 10; round++) {
    const points = await mountsBelow(prefix);
    if (points.length === 0) return;
    for (const point of points.reverse()) await execFileAsync('umount', ['-l', point]).catch(() => undefined);
  }
}
