import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProcessRunner } from '../platform/process-runner.js';
import { ok, problem, reason, type Check } from './check.js';
import { nearestExisting } from '../platform/nearest-existing.js';

const NAME = 'overlayfs';
const TIMEOUT_MS = 15_000;
const FIX = 'load the overlay module on the node (modprobe overlay; CONFIG_OVERLAY_FS), or use only read-only volumes';

/** /proc/filesystems lists overlay once the module is loaded (or built in). */
export function overlayListed(filesystems: string): boolean {
  return filesystems.split('\n').some((line) => line.split('\t').pop()?.trim() === 'overlay');
}

/**
 * Mounts a tiny overlay in a temp dir under `base` and unmounts it: the kernel loads the
 * module on demand, so a filesystem missing from /proc/filesystems may still mount. The
 * temp dir goes whatever happens. Returns the failure, or undefined when it mounted.
 */
export async function trialOverlayMount(runner: ProcessRunner, base: string): Promise<string | undefined> {
  let dir: string;
  try {
    dir = await mkdtemp(join(base, '.nixmount-doctor-'));
  } catch (error) {
    return `cannot make a temp dir in ${base} to try one (${reason(error)})`;
  }
  try {
    await Promise.all(['lower', 'upper', 'work', 'merged'].map((name) => mkdir(join(dir, name))));
    const options = `lowerdir=${join(dir, 'lower')},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`;
    const mounted = await runner.run('mount', ['-t', 'overlay', '-o', options, 'overlay', join(dir, 'merged')], { timeoutMs: 5_000, allowFailure: true });
    if (mounted.exitCode !== 0) return `a trial mount failed: ${mounted.stderr.trim().split('\n').pop() || `exit ${mounted.exitCode}`}`;
    await runner.run('umount', [join(dir, 'merged')], { timeoutMs: 5_000 });
    return undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Read-write volumes are overlays over the view; a node without overlayfs mounts only read-only ones. */
export function overlayCheck(runner: ProcessRunner, stateDir: string): Check {
  return {
    name: NAME,
    timeoutMs: TIMEOUT_MS,
    async run() {
      const listed = await readFile('/proc/filesystems', 'utf8').then(overlayListed, () => false);
      if (listed) return ok(NAME, 'overlay is in /proc/filesystems: read-write volumes can mount');
      // Under the state dir, where serve makes its overlays (its filesystem must take an upper layer).
      const state = await nearestExisting(stateDir);
      const failed = await trialOverlayMount(runner, state.exists ? stateDir : tmpdir());
      if (failed) return problem(NAME, `overlay is not in /proc/filesystems and ${failed}: read-write volumes (readOnly: false) cannot mount`, FIX);
      return ok(NAME, 'overlay mounts (a trial mount loaded it): read-write volumes can mount');
    },
  };
}
