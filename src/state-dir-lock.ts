import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { close, open } from 'node:fs';
import { mkdir, readFile, realpath, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sweepOwnerTemps } from './owner-temps.js';

const openFd = promisify(open);
const closeFd = promisify(close);

/** flock(1)'s exit code when another holds the lock (EX_TEMPFAIL). */
const BUSY = 75;

/**
 * One process at a time owns a state directory: two would build, hold and collect
 * views without seeing each other's leases.
 *
 * Ownership is an flock(2) on `<state>/owner.lock`, which the kernel drops when the
 * owner's descriptor closes, however the owner dies. So there is no dead owner's lock
 * to take over: of any number of processes starting after a crash, exactly one gets it.
 * (A pid file taken over by read, unlink, link let a second taker unlink the first
 * one's fresh file and both went on as owners.) `owner.lock` is never removed: a taker
 * holding a removed file's lock would not exclude one that creates a new file.
 * `owner.pid` only names the owner for messages and tools; the flock's holder alone
 * writes or removes it.
 */
const heldHere = new Set<string>();

/** Another live process holds the state directory (callers that may wait retry on this). */
export class StateDirInUseError extends Error {}

export async function lockStateDir(stateDir: string): Promise<() => Promise<void>> {
  await mkdir(stateDir, { recursive: true });
  const file = join(stateDir, 'owner.pid');
  if (heldHere.has(file)) throw new Error(`state directory ${stateDir} is in use by process ${process.pid} (this one)`);
  heldHere.add(file);
  let fd: number | undefined;
  try {
    fd = await openFd(join(stateDir, 'owner.lock'), 'a', 0o644);
    if (!takeFlock(fd, stateDir)) {
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      throw new StateDirInUseError(`state directory ${stateDir} is in use by process ${owner || 'unknown'} (a running nixmount serve?)`);
    }
    await sweepOwnerTemps(stateDir);
    // Written aside and renamed into place: a reader never sees the file without its pid.
    const temp = join(stateDir, `.owner.pid.${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(temp, `${process.pid}\n`);
      await rename(temp, file);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
    const held = fd;
    return async () => {
      // The name goes first: once the flock is released, the next owner writes its own.
      await unlink(file).catch(() => undefined);
      await closeFd(held).catch(() => undefined);
      heldHere.delete(file);
    };
  } catch (error) {
    if (fd !== undefined) await closeFd(fd).catch(() => undefined);
    heldHere.delete(file);
    throw error;
  }
}

/**
 * Takes the lock of a state directory whose `owner.lock` was removed under its owner (its
 * content wiped): a new file, locked and named in `owner.pid` as at start. False when another
 * process got the new file's lock first. The descriptor stays open until this process exits.
 */
export async function relockStateDir(stateDir: string): Promise<boolean> {
  await mkdir(stateDir, { recursive: true });
  const fd = await openFd(join(stateDir, 'owner.lock'), 'a', 0o644);
  if (!takeFlock(fd, stateDir)) {
    await closeFd(fd).catch(() => undefined);
    return false;
  }
  const temp = join(stateDir, `.owner.pid.${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(temp, `${process.pid}\n`);
    await rename(temp, join(stateDir, 'owner.pid'));
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  return true;
}

/**
 * flock(2) on `fd` without waiting; false when another holds it. Node has no flock, so
 * flock(1) locks the open file description it is handed as fd 3 and exits: the lock
 * stays with that description, which only this process keeps open (Node opens files
 * close-on-exec, so no later child inherits it).
 */
function takeFlock(fd: number, stateDir: string): boolean {
  // Synchronous and short: flock(1) returns at once, and a failed spawn comes back as
  // `error` instead of an event nobody may be listening to.
  const result = spawnSync('flock', ['--exclusive', '--nonblock', '--conflict-exit-code', String(BUSY), '3'], {
    stdio: ['ignore', 'ignore', 'pipe', fd],
    timeout: 10_000,
  });
  if (result.status === 0) return true;
  if (result.status === BUSY) return false;
  const why = result.error?.message ?? (result.stderr.toString().trim() || `flock exited with ${result.status ?? result.signal}`);
  throw new Error(`could not lock state directory ${stateDir}: ${why}`);
}

/**
 * The state directory as the kernel names it (no symlink, no trailing slash): the mount
 * table and the GC-root directory are compared and keyed by it, so `/x/state/`, `/x/state`
 * and a symlink to it are one node.
 */
export async function canonicalStateDir(stateDir: string): Promise<string> {
  await mkdir(stateDir, { recursive: true });
  return realpath(stateDir);
}
