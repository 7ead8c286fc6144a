import { execa, type ResultPromise } from 'execa';
import { readFile } from 'node:fs/promises';
import type { ExecutionContext } from 'ava';
import { parseMountInfo, type MountEntry } from '../../src/platform/mountinfo.js';

/**
 * A private mount namespace for a plugin under attack. Today's plugin mounts over /etc or a
 * store path when asked; on a shared machine that must never reach the host's mount table. Every
 * mount the plugin (or the test) makes in here dies with the namespace, which lives exactly as
 * long as the test: its holder process is killed on teardown, even on failure.
 * The file system is shared: only the mount table is private.
 */
export class MountNamespace {
  private constructor(
    private readonly holder: ResultPromise,
    readonly pid: number,
  ) {}

  static async create(t: ExecutionContext, maxSeconds = 1800): Promise<MountNamespace> {
    // `sleep` bounds the namespace's life even if teardown never ran.
    const holder = execa('unshare', ['--mount', '--propagation', 'private', '--', 'sleep', String(maxSeconds)], { reject: false });
    const pid = holder.pid;
    if (pid === undefined) throw new Error('unshare did not start');
    const ns = new MountNamespace(holder, pid);
    t.teardown(() => ns.close());
    // Ready once the holder is in its own namespace (its mnt link differs from ours).
    const own = await readlinkSafe('/proc/self/ns/mnt');
    for (let attempt = 0; attempt < 100; attempt++) {
      const theirs = await readlinkSafe(`/proc/${pid}/ns/mnt`);
      if (theirs && theirs !== own) {
        // /proc/<pid>/ns/mnt can change just before sleep execs; make sure the comm is sleep.
        const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
        if (comm === 'sleep') return ns;
      }
      if (holder.exitCode !== null) break;
      await new Promise((done) => setTimeout(done, 20));
    }
    await ns.close();
    throw new Error('could not create a private mount namespace (unshare --mount)');
  }

  /** argv prefix that runs a command inside the namespace (nsenter execs it: same pid). */
  enter(command: string, args: readonly string[]): [string, string[]] {
    return ['nsenter', ['-t', String(this.pid), '-m', '--', command, ...args]];
  }

  /** Runs a command inside the namespace (e.g. mount/umount of the test's own doing). */
  async exec(command: string, args: readonly string[], reject = true) {
    const [cmd, argv] = this.enter(command, args);
    return execa(cmd, argv, { reject, timeout: 30_000 });
  }

  get mountInfoFile(): string {
    return `/proc/${this.pid}/mountinfo`;
  }

  async mounts(): Promise<MountEntry[]> {
    return parseMountInfo(await readFile(this.mountInfoFile, 'utf8'));
  }

  async mountsAt(path: string): Promise<MountEntry[]> {
    return (await this.mounts()).filter((entry) => entry.mountPoint === path);
  }

  /** `path` as seen inside the namespace (through its mounts), readable from the test process. */
  view(path: string): string {
    return `/proc/${this.pid}/root${path}`;
  }

  async close(): Promise<void> {
    if (this.holder.exitCode === null) this.holder.kill('SIGKILL');
    await this.holder;
  }
}

async function readlinkSafe(path: string): Promise<string> {
  const { readlink } = await import('node:fs/promises');
  return readlink(path).catch(() => '');
}
