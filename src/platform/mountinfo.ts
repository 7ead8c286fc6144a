import { closeSync, constants, fstat, open as openCallback, readFileSync, type BigIntStats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

export interface MountEntry {
  /** Mount id and the id of the mount it sits on (stacked mounts at one point chain through these). */
  id: number;
  parentId: number;
  /** major:minor of the filesystem. */
  device: string;
  mountPoint: string;
  /** The directory of the filesystem (or of the bind source) that is mounted here. */
  root: string;
  /** Per-mount options (ro, nosuid, nodev…). */
  options: string[];
  /** The optional fields: propagation (`shared:N`, `master:N`, `propagate_from:N`, `unbindable`); none for a private mount. */
  optionalFields: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const [fsType, source, superOptions] = right.split(' ');
    entries.push({
      id: Number(fields[0]),
      parentId: Number(fields[1]),
      device: fields[2] ?? '',
      root: unescape(fields[3] ?? ''),
      mountPoint: unescape(fields[4] ?? ''),
      options: (fields[5] ?? '').split(','),
      optionalFields: fields.slice(6),
      fsType: fsType ?? '',
      source: unescape(source ?? ''),
      superOptions: (superOptions ?? '').split(','),
    });
  }
  return entries;
}

export async function readMountInfo(): Promise<MountEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/**
 * The mounts at `mountPoint`, bottom first. A mount stacked on another at the same
 * point has the lower one as its parent, so the chain gives the order; the last one
 * is what a process looking at the path sees.
 */
export function stackAt(entries: readonly MountEntry[], mountPoint: string): MountEntry[] {
  const here = entries.filter((entry) => entry.mountPoint === mountPoint);
  const ids = new Set(here.map((entry) => entry.id));
  const stack: MountEntry[] = [];
  let next = here.find((entry) => !ids.has(entry.parentId));
  while (next && stack.length < here.length) {
    stack.push(next);
    const below: MountEntry = next;
    next = here.find((entry) => entry.parentId === below.id);
  }
  return stack;
}

/** The visible mount that contains `path` (the deepest mount point above it, top of its stack). */
export function mountContaining(entries: readonly MountEntry[], path: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const entry of entries) {
    const point = entry.mountPoint;
    const inside = point === '/' || path === point || path.startsWith(`${point}/`);
    if (inside && (!best || point.length >= best.mountPoint.length)) best = entry;
  }
  if (!best) return undefined;
  return stackAt(entries, best.mountPoint).pop() ?? best;
}

/** Where a path leads: the id of the top mount its lookup ends on, and the inode it names there. */
export interface PathMount {
  mountId: number;
  dev: bigint;
  ino: bigint;
  /** The path itself is a symlink (O_NOFOLLOW opened the link): nothing is proven about a mount there. */
  symlink: boolean;
}

// Linux's O_PATH: a handle that names the path without opening the file (no side effects on FIFOs or devices).
const O_PATH = 0o10000000;

/**
 * The mount a path resolves to, without reading the whole mount table: the path is
 * opened with O_PATH (never following a final symlink) and the kernel says its mount
 * id in /proc/self/fdinfo. Costs the same with 10 mounts or 10,000. Undefined when the
 * path does not exist; throws on other errors.
 *
 * The procfs read and the close are synchronous (neither can wait on a file system,
 * and readFile alone was four round trips through the thread pool, each a scheduling
 * delay on a busy node); the open and the fstat, which reach the path's file system
 * (a hung network mount there must not stall the whole plugin), stay asynchronous.
 */
export async function pathMount(path: string): Promise<PathMount | undefined> {
  let fd: number;
  try {
    fd = await openFd(path, O_PATH | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
  try {
    const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    const id = /^mnt_id:\s*(\d+)$/m.exec(info)?.[1];
    if (id === undefined) throw new Error(`/proc/self/fdinfo/${fd} names no mnt_id`);
    const stats = await fstatFd(fd);
    return { mountId: Number(id), dev: stats.dev, ino: stats.ino, symlink: stats.isSymbolicLink() };
  } finally {
    // An O_PATH descriptor has nothing to flush: closed at once, without a round trip.
    closeSync(fd);
  }
}

// Plain descriptors, not FileHandles: a FileHandle must be closed through itself.
const openFd = promisify(openCallback) as (path: string, flags: number) => Promise<number>;
const fstatFd = (fd: number) =>
  new Promise<BigIntStats>((resolve, reject) => fstat(fd, { bigint: true }, (error, stats) => (error ? reject(error) : resolve(stats))));
