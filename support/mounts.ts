import { execa } from 'execa';
import { readMountInfo } from '../src/platform/mountinfo.js';

/** Mount points at or below `prefix`, deepest last. */
export async function mountsBelow(prefix: string): Promise<string[]> {
  const entries = await readMountInfo();
  return entries.map((entry) => entry.mountPoint).filter((point) => point === prefix || point.startsWith(`${prefix}/`));
}

export async function mountOptionsAt(path: string): Promise<string[] | undefined> {
  const entries = await readMountInfo();
  const entry = entries.filter((e) => e.mountPoint === path).pop();
  return entry ? [...entry.options, ...entry.superOptions] : undefined;
}

/** Test cleanup: unmount everything below `prefix` (lazily, so a busy mount never blocks cleanup). */
export async function unmountBelow(prefix: string): Promise<void> {
  for (let round = 0; round < 10; round++) {
    const points = await mountsBelow(prefix);
    if (points.length === 0) return;
    for (const point of points.reverse()) await execa('umount', ['-l', point], { reject: false });
  }
}
