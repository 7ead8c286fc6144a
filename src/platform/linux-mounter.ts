import { realpath } from 'node:fs/promises';
import { inject, injectable } from 'inversify';
import type { Mounter, OverlayDirs } from '../core/ports/mounter.js';
import { ProcessRunner } from '../core/ports/process-runner.js';
import { readMountInfo } from './mountinfo.js';

const HARDENING = ['nosuid', 'nodev'];

async function canonical(path: string): Promise<string> {
  return realpath(path).catch(() => path);
}

/** util-linux mount/umount; the mount table is read from /proc/self/mountinfo. */
@injectable()
export class LinuxMounter implements Mounter {
  constructor(@inject(ProcessRunner) private readonly runner: ProcessRunner) {}

  async bindReadOnly(source: string, target: string, extraFlags: readonly string[] = []): Promise<void> {
    // util-linux applies ro/nosuid/nodev with a bind in one call (it remounts internally).
    const options = ['bind', 'ro', ...HARDENING, ...extraFlags].join(',');
    await this.runner.run('mount', ['-o', options, source, target]);
  }

  async overlay(dirs: OverlayDirs, target: string, extraFlags: readonly string[] = []): Promise<void> {
    const options = [`lowerdir=${dirs.lower}`, `upperdir=${dirs.upper}`, `workdir=${dirs.work}`, ...HARDENING, ...extraFlags];
    await this.runner.run('mount', ['-t', 'overlay', 'nixmount', '-o', options.join(','), target]);
  }

  async unmount(target: string): Promise<void> {
    await this.runner.run('umount', [target]);
  }

  async isMountPoint(target: string): Promise<boolean> {
    const path = await canonical(target);
    return (await readMountInfo()).some((entry) => entry.mountPoint === path);
  }
}
