import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MountHelper, type MountHelperSettings } from '../platform/mount-helper.js';
import { createLogger } from '../platform/pino-logger.js';
import type { ProcessRunner } from '../platform/process-runner.js';
import { info, ok, problem, reason, type Check } from './check.js';

const NAME = 'mount-helper';
const TIMEOUT_MS = 15_000;

/**
 * Whether read-only publishes bind and unmount through the mount helper (system calls
 * from one perl process) or spawn util-linux for each: starts the helper and asks it
 * to unmount a fresh temp dir, which must answer "not a mount point" and change nothing.
 */
export function mountHelperCheck(runner: ProcessRunner, settings: MountHelperSettings): Check {
  return {
    name: NAME,
    timeoutMs: TIMEOUT_MS,
    async run() {
      const helper = new MountHelper(runner, createLogger({ level: 'silent' }), settings);
      const dir = await mkdtemp(join(tmpdir(), '.nixmount-doctor-'));
      try {
        const answer = await helper.unmount(dir).then(
          () => 'it unmounted a directory that held no mount',
          (error: unknown) => (/Invalid argument|not mounted/.test(reason(error)) ? undefined : reason(error)),
        );
        const why = helper.fallbackReason;
        if (answer && why === undefined) return problem(NAME, `the mount helper's trial unmount of an empty directory went wrong: ${answer}`, 'run serve with --mount-helper off, and report this');
        if (answer) return problem(NAME, `util-linux does the binds and unmounts (${why}), and its trial umount of an empty directory failed: ${answer}`, 'install util-linux (Debian: mount) on the PATH of nixmount serve');
        if (why === undefined) return ok(NAME, 'binds and unmounts are system calls made by the mount helper (perl): a warm publish spawns nothing');
        return info(
          NAME,
          `binds and unmounts spawn util-linux mount and umount for each volume (${why}): a warm publish takes milliseconds more`,
          why === '--mount-helper off' ? 'leave --mount-helper at auto unless it misbehaves' : 'put perl (Debian: perl-base) on the PATH of nixmount serve',
        );
      } finally {
        helper.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
