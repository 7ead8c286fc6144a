import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { inject, injectable } from 'inversify';
import { NixmountError } from '../core/errors.js';
import { Logger } from '../core/ports/logger.js';
import { MOUNT_HELPER_PROGRAM, MOUNT_HELPER_SYSCALLS } from './mount-helper-program.js';
import { onPath } from './on-path.js';
import { ProcessRunner } from './process-runner.js';

export const MountHelperSettings = Symbol('MountHelperSettings');

export interface MountHelperSettings {
  /** auto: the helper when the node can run it; off: util-linux for every bind and unmount. */
  helper: 'auto' | 'off';
}

/**
 * A helper makes one system call at a time, so one call hung on a dead NFS or FUSE
 * target would hold every bind and unmount of the node behind it. A call not answered
 * in this long is given to util-linux instead (its processes run side by side), and
 * the helper counts as wedged (Probe answers not ready) until it answers again.
 * Seconds: a healthy helper answers in microseconds, and a publish can wait this long.
 */
export const HELPER_FALLBACK_MS = 3_000;
/**
 * The helper drops a call it reads after this long (a helper stopped or stuck behind
 * an earlier call), answering ETIMEDOUT: a call util-linux has made is never made
 * again behind its back. Sent as a deadline in whole seconds of the wall clock,
 * rounded down, so it always falls before HELPER_FALLBACK_MS.
 */
const HELPER_DEADLINE_MS = 2_000;
/** A helper wedged this long is killed; the next call starts another. */
const WEDGED_KILL_MS = 60_000;
/** The helper's bound on one call's frame (paths are at most PATH_MAX, 4,096 bytes, each). */
const MAX_FRAME = 65_536;
/** The helper must start and prove its system call numbers within this long. */
const START_TIMEOUT_MS = 10_000;
/** Helpers that die this many times in a row (never answering) leave util-linux to do the work. */
const MAX_FAILED_STARTS = 3;

/** Each operation as the util-linux command that does the same, for messages. */
const SHOWN = {
  bind: 'mount --bind',
  'bind-ro': 'mount -o bind,ro,nosuid,nodev',
  rbind: 'mount --rbind',
  'rbind-ro': 'mount -o rbind,ro,nosuid,nodev',
  'bind-ro-many': 'mount -o bind,ro,nosuid,nodev (each pair)',
  'bind-private': 'mount -o bind,ro,nosuid,nodev --make-private',
  umount: 'umount',
  'umount-many': 'umount (each)',
  'umount-tree': 'umount --lazy',
  'umount-fd': 'umount',
} as const;
/** A batch's paths per frame, leaving room for its id, deadline and operation within MAX_FRAME. */
const BATCH_BYTES = 60_000;

/** One helper process and the calls sent to it that it has not answered. */
interface Helper {
  child: ChildProcessByStdio<Writable, Readable, Readable>;
  pending: Map<string, Pending>;
  /** Since a call went unanswered past HELPER_FALLBACK_MS, until it answers anything. */
  wedged?: { since: number; shown: string; killTimer: NodeJS.Timeout };
}

interface Pending {
  /** true: the helper made the call; false: util-linux is to make it. */
  resolve: (made: boolean) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  shown: string;
}

/**
 * Plain and read-only binds and unmounts, the mount operations of every read-only
 * publish and unpublish, made by one long-lived helper process (see mount-helper-program.ts)
 * instead of a `mount` or `umount` spawned per call. Spawning forks the whole plugin
 * (milliseconds, and more as it grows) and util-linux then reads the mount table
 * (more with every mount on the node); the helper's system call takes tens of
 * microseconds. Where the helper cannot run (no perl, an architecture whose numbers
 * are not known here, `--mount-helper off`, or it keeps dying), util-linux does the
 * same work with the same meaning: `mount --bind`, `mount -o bind,ro,nosuid,nodev`,
 * `umount --no-canonicalize`.
 * Either way a failure is an Internal error naming the command and why it failed.
 */
@injectable()
export class MountHelper {
  private helper?: Helper;
  private starting?: Promise<Helper | undefined>;
  private nextId = 1;
  private failedStarts = 0;
  private disabled: string | undefined;

  constructor(
    @inject(ProcessRunner) private readonly runner: ProcessRunner,
    @inject(Logger) private readonly log: Logger,
    @inject(MountHelperSettings) settings: MountHelperSettings,
  ) {
    this.disabled = settings.helper === 'off' ? '--mount-helper off' : undefined;
  }

  /** `mount --bind source target`: the target gets a new mount of source's tree, with source's mount flags. */
  async bind(source: string, target: string): Promise<void> {
    // Not canonicalised: a held target's fd link must reach mount(2) as it is (a realpath would walk the path again).
    if (!(await this.call('bind', [source, target]))) await this.runner.run('mount', ['--bind', '--no-canonicalize', source, target]);
  }

  /**
   * `mount -o bind,ro,nosuid,nodev[,extraFlags] source target`: a bind, remounted with
   * those flags (or, if that fails, undone). Extra flags (a volume's mount_flags, rare)
   * are util-linux's to parse.
   */
  async bindReadOnly(source: string, target: string, extraFlags: readonly string[] = []): Promise<void> {
    if (extraFlags.length === 0 && (await this.call('bind-ro', [source, target]))) return;
    await this.runner.run('mount', ['-o', ['bind', 'ro', 'nosuid', 'nodev', ...extraFlags].join(','), source, target]);
  }

  /**
   * `mount --rbind source target`: the target gets source's whole tree (a bind-farm
   * view's per-path binds come along; a plain bind would show their empty directories).
   */
  async bindTree(source: string, target: string): Promise<void> {
    if (!(await this.call('rbind', [source, target]))) await this.runner.run('mount', ['--rbind', '--no-canonicalize', source, target]);
  }

  /** A recursive bind whose top is then remounted ro,nosuid,nodev (the binds below are read-only already), or undone. */
  async bindTreeReadOnly(source: string, target: string, extraFlags: readonly string[] = []): Promise<void> {
    if (extraFlags.length === 0 && (await this.call('rbind-ro', [source, target]))) return;
    await this.runner.run('mount', ['--rbind', '--no-canonicalize', source, target]);
    try {
      await this.runner.run('mount', ['--no-canonicalize', '-o', ['remount', 'bind', 'ro', 'nosuid', 'nodev', ...extraFlags].join(','), target]);
    } catch (error) {
      await this.runner.run('umount', ['--lazy', '--no-canonicalize', target]).catch(() => undefined);
      throw error;
    }
  }

  /**
   * `mount -o bind,ro,nosuid,nodev dir dir && mount --make-private dir` (undone if a step
   * fails): nothing can be written in `dir` through it, and mounts made below `dir`
   * afterwards propagate to no peer, whatever the mount `dir` sits on.
   */
  async bindPrivate(dir: string): Promise<void> {
    if (await this.call('bind-private', [dir])) return;
    await this.runner.run('mount', ['--bind', '--no-canonicalize', dir, dir]);
    try {
      await this.runner.run('mount', ['--no-canonicalize', '-o', 'remount,bind,ro,nosuid,nodev', dir]);
      await this.runner.run('mount', ['--make-private', '--no-canonicalize', dir]);
    } catch (error) {
      await this.runner.run('umount', ['--no-canonicalize', dir]).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Read-only binds (ro,nosuid,nodev) of each `[source, target]`, as few calls to the
   * helper as the frame allows; stops at the first failure, which it throws (the
   * binds made before it stay: the caller undoes its whole batch).
   */
  async bindReadOnlyMany(pairs: ReadonlyArray<readonly [string, string]>): Promise<void> {
    for (const chunk of batches(pairs.map((pair) => [...pair]))) {
      if (await this.call('bind-ro-many', chunk.flat())) continue;
      for (const [source, target] of chunk) await this.runner.run('mount', ['-o', 'bind,ro,nosuid,nodev', source!, target!]);
    }
  }

  /** Unmounts the top mount at each path (never following a symlink); a path that is no mount point (any more) is skipped. */
  async unmountMany(paths: readonly string[]): Promise<void> {
    for (const chunk of batches(paths.map((path) => [path]))) {
      if (await this.call('umount-many', chunk.flat())) continue;
      for (const [path] of chunk) {
        await this.runner.run('umount', ['--no-canonicalize', path!]).catch((error: unknown) => {
          if (!/not mounted|no mount point|no such file|not a mount point/i.test(String((error as { stderr?: string }).stderr ?? error))) throw error;
        });
      }
    }
  }

  /** Detaches the mount at `target` with every mount below it (MNT_DETACH, never following a symlink): for trees nobody uses. */
  async unmountTree(target: string): Promise<void> {
    if (!(await this.call('umount-tree', [target]))) await this.runner.run('umount', ['--lazy', '--no-canonicalize', target]);
  }

  /** Unmounts the top mount at `target`, which must not be a symlink (`umount --no-canonicalize`, stricter). */
  async unmount(target: string): Promise<void> {
    if (!(await this.call('umount', [target]))) await this.runner.run('umount', ['--no-canonicalize', target]);
  }

  /**
   * Detaches the mount an fd link (`/proc/<pid>/fd/<n>`, a descriptor opened on a mount's
   * root) names: umount2 without UMOUNT_NOFOLLOW, so the kernel follows the link to that
   * exact mount, and nothing else is ever unmounted this way. MNT_DETACH, because the
   * descriptor itself keeps the mount busy until the caller closes it.
   */
  async unmountFdLink(link: string): Promise<void> {
    if (!/^\/proc\/\d+\/fd\/\d+$/.test(link)) throw new Error(`${link} is not an fd link`);
    if (!(await this.call('umount-fd', [link]))) await this.runner.run('umount', ['--lazy', '--no-canonicalize', link]);
  }

  /**
   * Starts the helper now rather than at the first call (serve, before it answers):
   * the first publish after a start does not wait for perl, and a node without it is
   * told so in the log at start.
   */
  async prepare(): Promise<void> {
    if (!this.disabled) await this.running();
  }

  /** Why util-linux does the work, or undefined while the helper does. */
  get fallbackReason(): string | undefined {
    return this.disabled;
  }

  /**
   * Why the helper is not to be trusted with calls now (one went unanswered), or
   * undefined: Probe reports the node not ready while this is set.
   */
  get wedgedReason(): string | undefined {
    const wedged = this.helper?.wedged;
    return wedged && `the mount helper has not answered ${wedged.shown} for ${Math.round((Date.now() - wedged.since) / 1000)} s`;
  }

  /** Ends the helper (it also ends by itself with the plugin); a later call starts another. */
  close(): void {
    if (this.helper?.wedged) clearTimeout(this.helper.wedged.killTimer);
    this.helper?.child.stdin.end();
    this.helper = undefined;
  }

  /** Answers false when the helper cannot take the call, so util-linux does it. */
  private async call(op: keyof typeof SHOWN, paths: readonly string[]): Promise<boolean> {
    if (this.disabled) return false;
    const helper = await this.running();
    if (!helper || helper.wedged) return false;
    const id = String(this.nextId++);
    const shown = paths.length > 2 ? `${SHOWN[op]} ${paths.slice(0, 2).join(' ')} … (${paths.length} paths)` : `${SHOWN[op]} ${paths.join(' ')}`;
    const deadline = Math.floor((Date.now() + HELPER_DEADLINE_MS) / 1000);
    const body = Buffer.from([id, String(deadline), op, ...paths].join('\0'));
    if (body.length > MAX_FRAME) throw new NixmountError('InvalidArgument', `${shown.slice(0, 200)}…: paths longer than the system allows`);
    const frame = Buffer.alloc(4 + body.length);
    frame.writeUInt32BE(body.length, 0);
    body.copy(frame, 4);
    return new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => this.giveUp(helper, id), HELPER_FALLBACK_MS);
      helper.pending.set(id, { resolve, reject, timer, shown });
      helper.child.stdin.write(frame);
    });
  }

  /** Call `id` is util-linux's now; the helper is wedged until it answers (or is killed). */
  private giveUp(helper: Helper, id: string): void {
    const call = helper.pending.get(id);
    if (!call) return;
    helper.pending.delete(id);
    if (!helper.wedged) {
      const killTimer = setTimeout(() => this.abandon(helper, `no answer in ${WEDGED_KILL_MS / 1000} s; the helper was killed`, true), WEDGED_KILL_MS);
      killTimer.unref();
      helper.wedged = { since: Date.now(), shown: call.shown, killTimer };
      this.log.warn({ call: call.shown, ms: HELPER_FALLBACK_MS }, 'mount helper wedged: util-linux makes its calls until it answers');
    }
    call.resolve(false);
  }

  /** Any answer proves the helper runs again. */
  private answered(helper: Helper): void {
    if (!helper.wedged) return;
    clearTimeout(helper.wedged.killTimer);
    this.log.warn({ call: helper.wedged.shown, ms: Date.now() - helper.wedged.since }, 'mount helper answers again');
    helper.wedged = undefined;
  }

  private running(): Promise<Helper | undefined> {
    if (this.helper) return Promise.resolve(this.helper);
    this.starting ??= this.start().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async start(): Promise<Helper | undefined> {
    const perl = onPath('perl');
    const numbers = MOUNT_HELPER_SYSCALLS[process.arch];
    if (!perl || !numbers) return this.fallBack(perl ? `no system call numbers for ${process.arch}` : 'no perl on PATH');
    let spawned;
    try {
      spawned = spawn(perl, ['-e', MOUNT_HELPER_PROGRAM, String(process.pid), ...numbers.map(String)], { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (error) {
      return this.notStarted(error);
    }
    // Heard before anything else: a spawn that failed (EMFILE) has no streams, and an unheard 'error' ends the plugin.
    let spawnError: unknown;
    spawned.on('error', (error) => {
      spawnError ??= error;
    });
    if (spawned.pid === undefined || !spawned.stdin || !spawned.stdout || !spawned.stderr) {
      await new Promise((resolve) => setImmediate(resolve));
      return this.notStarted(spawnError);
    }
    const child = spawned;
    const helper: Helper = { child, pending: new Map() };
    // Never what keeps a process alive: a call in flight has its timer for that.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
    child.stdin.on('error', () => undefined); // a dead helper: its exit fails what was pending
    child.stderr.on('data', (chunk: Buffer) => this.log.warn({ output: chunk.toString().trim() }, 'mount helper wrote to stderr'));
    const ready = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => resolve(`no answer in ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
      let buffered = '';
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString();
        const end = buffered.indexOf('\n');
        if (end < 0) return;
        child.stdout.off('data', onData);
        clearTimeout(timer);
        const match = /^ready (\d+)$/.exec(buffered.slice(0, end));
        if (match) this.listen(helper, buffered.slice(end + 1));
        resolve(match ? Number(match[1]) : `it said ${JSON.stringify(buffered.slice(0, end))}`);
      };
      child.stdout.on('data', onData);
      child.once('error', (error) => resolve(error.message));
      child.once('exit', (code, signal) => resolve(`it exited (${signal ?? code})`));
    });
    if (ready !== constants.errno.ENOENT) {
      child.kill('SIGKILL');
      const why = typeof ready === 'number' ? `its probe answered errno ${ready}, not ENOENT` : ready;
      if (++this.failedStarts >= MAX_FAILED_STARTS) return this.fallBack(`it failed to start ${MAX_FAILED_STARTS} times (${why})`);
      this.log.warn({ reason: why }, 'mount helper did not start; util-linux does this call');
      return undefined;
    }
    this.failedStarts = 0;
    child.once('exit', (code, signal) => this.abandon(helper, `the helper exited (${signal ?? code}) before answering`, false));
    this.helper = helper;
    // Not `pid`: the logger's own `pid` (the plugin's) would be repeated, and JSON readers keep the last.
    this.log.debug({ helperPid: child.pid }, 'mount helper started');
    return helper;
  }

  private listen(helper: Helper, rest: string): void {
    let buffered = rest;
    helper.child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        this.answered(helper);
        answer(helper, buffered.slice(0, end), this.log);
        buffered = buffered.slice(end + 1);
      }
    });
  }

  /**
   * The helper is gone or hung: every call in flight fails (whether its system call
   * happened is unknown, and callers read the mount table again before they act),
   * and the next call starts a new helper.
   */
  private abandon(helper: Helper, why: string, kill: boolean): void {
    if (kill) helper.child.kill('SIGKILL');
    if (helper.wedged) clearTimeout(helper.wedged.killTimer);
    helper.wedged = undefined;
    if (this.helper === helper) this.helper = undefined;
    for (const [id, call] of helper.pending) {
      helper.pending.delete(id);
      clearTimeout(call.timer);
      call.reject(new NixmountError('Internal', `${call.shown}: ${why}`));
    }
  }

  /**
   * The system would not start a process (out of descriptors, processes or memory): not
   * the helper's fault, so not counted against it; util-linux takes this call (and most
   * likely fails the same way, which its caller reports), and the next call tries again.
   */
  private notStarted(error: unknown): undefined {
    this.log.warn({ err: error }, 'mount helper could not be started; util-linux does this call');
    return undefined;
  }

  private fallBack(reason: string): undefined {
    this.disabled = reason;
    this.log.warn({ reason }, 'mount helper unavailable: binds and unmounts spawn util-linux mount and umount');
    return undefined;
  }
}

/**
 * `<id> <errno> <strerror>` settles call `<id>`: errno 0 is success; ETIMEDOUT says the
 * helper dropped it past its deadline, so util-linux makes it.
 */
function answer(helper: Helper, line: string, log: Logger): void {
  const [id = '', errno = '', ...message] = line.split(' ');
  const call = helper.pending.get(id);
  if (!call) {
    // Given to util-linux already: only a system call that hung and then completed answers 0 here.
    if (errno === '0') log.warn({ id }, 'mount helper made a call after util-linux was given it');
    return;
  }
  helper.pending.delete(id);
  clearTimeout(call.timer);
  if (errno === '0') call.resolve(true);
  else if (errno === String(constants.errno.ETIMEDOUT)) call.resolve(false);
  else call.reject(new NixmountError('Internal', `${call.shown}: ${message.join(' ')} (errno ${errno})`));
}

/** Groups of paths whose bytes fit one frame (a group never splits a pair). */
function batches(groups: string[][]): string[][][] {
  const out: string[][][] = [];
  let current: string[][] = [];
  let bytes = 0;
  for (const group of groups) {
    const size = group.reduce((sum, path) => sum + Buffer.byteLength(path) + 1, 0);
    if (current.length > 0 && bytes + size > BATCH_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(group);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
