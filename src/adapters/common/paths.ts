import { lstatSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, PathThroughSymlinkError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import { quote, utf8Length } from '../../core/quote.js';

/** Linux's PATH_MAX: no longer path reaches the kernel. */
export const PATH_MAX_BYTES = LIMITS.pathBytes;
/** Linux's NAME_MAX: no longer file name exists. */
export const NAME_MAX_BYTES = LIMITS.nameBytes;

const bytes = utf8Length;

/**
 * The one canonical form of a path an orchestrator sent: absolute, no `//`, no trailing
 * `/`. Records and locks are keyed on it, so `t/e/` and `t/e` are one volume. Paths
 * whose meaning depends on resolution (`.`, `..`, relative) are refused rather than
 * resolved: a relative path would resolve against the plugin's working directory.
 */
export function canonicalPath(path: string, field: string): string {
  if (path.includes('\0')) {
    throw new InvalidArgumentError(`${field}: ${quote(path)} contains a NUL byte, which no path can hold`);
  }
  const size = bytes(path);
  if (size > PATH_MAX_BYTES) {
    throw new InvalidArgumentError(`${field}: ${quote(path)} is longer than the limit of ${PATH_MAX_BYTES} bytes (PATH_MAX)`);
  }
  if (!path.startsWith('/')) {
    throw new InvalidArgumentError(`${field}: ${quote(path)} must be an absolute path`);
  }
  const parts = path.split('/').filter((part) => part !== '');
  for (const part of parts) {
    if (part === '.' || part === '..') {
      throw new InvalidArgumentError(`${field}: ${quote(path)} contains "${part}"; send the path without "." or ".." segments`);
    }
    if (bytes(part) > NAME_MAX_BYTES) {
      throw new InvalidArgumentError(
        `${field}: ${quote(path)} has a component ${quote(part, 32)} longer than the limit of ${NAME_MAX_BYTES} bytes (NAME_MAX)`,
      );
    }
  }
  return `/${parts.join('/')}`;
}

/** True when `path` lies strictly below `base` (both canonical). */
export function isBelow(path: string, base: string): boolean {
  const prefix = base.endsWith('/') ? base : `${base}/`;
  return path.startsWith(prefix) && path.length > prefix.length;
}

/** True when `path` is `base` or lies below it (both canonical). */
export function isAtOrBelow(path: string, base: string): boolean {
  return path === base || isBelow(path, base);
}

/**
 * Refuses `path` (canonical, below the canonical `root`) when any existing component
 * below `root` is a symlink: following one would mount or delete outside the directory
 * the orchestrator owns. Checked with lstat, never following links. Components that do
 * not exist yet end the walk (the plugin creates the target itself). An existing
 * non-directory is refused too: nothing is ever mounted on or below a file.
 */
export function assertNoSymlinkBelow(path: string, root: string, field: string): void {
  const rest = root === '/' ? path.slice(1) : path.slice(root.length + 1);
  const parts = rest === '' ? [] : rest.split('/');
  let current = root === '/' ? '' : root;
  for (const [index, part] of parts.entries()) {
    current = `${current}/${part}`;
    const last = index === parts.length - 1;
    let stats;
    try {
      stats = lstatSync(current);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      // A final component that cannot be stat'ed (a FUSE mount whose daemon died, a stale
      // NFS handle) is a mount point, never a symlink: lstat does not follow links. The core
      // decides what to do with it. Above it, fail closed.
      if (last && code !== 'ENOTDIR') return;
      throw error;
    }
    if (stats.isSymbolicLink()) {
      throw new PathThroughSymlinkError(
        `${field}: ${quote(path)} goes through the symlink ${quote(current)}; nixmount never follows links in target or staging paths`,
      );
    }
    if (!stats.isDirectory()) {
      throw new FailedPreconditionError(
        `${field}: ${quote(current)} exists and is not a directory; ${last ? 'the target must be a directory or absent' : 'a path cannot go through a file'}`,
      );
    }
  }
}

/** The realpath of `path`, or of its deepest existing ancestor with the rest appended. */
export function realpathOfExisting(path: string): string {
  const parts = path.split('/').filter((part) => part !== '');
  for (let keep = parts.length; keep >= 0; keep -= 1) {
    const head = `/${parts.slice(0, keep).join('/')}`;
    try {
      const real = realpathSync(head);
      const tail = parts.slice(keep).join('/');
      return tail === '' ? real : `${real === '/' ? '' : real}/${tail}`;
    } catch {
      // not there yet: try the parent
    }
  }
  return path;
}

/**
 * Directories no target or staging path may be, be inside, or hide by being mounted on
 * an ancestor of them: the state dir (as given and its realpath, since records and views
 * live there), `/nix` and the store's physical root. Realpaths are taken once, at start.
 */
export class ProtectedDirs {
  private readonly dirs: string[];

  constructor(dirs: readonly string[]) {
    const all = new Set<string>();
    for (const dir of dirs) {
      if (dir === '') continue;
      const canonical = resolve(dir);
      all.add(canonical);
      all.add(realpathOfExisting(canonical));
    }
    this.dirs = [...all];
  }

  /** Throws InvalidArgumentError when `path` (canonical) is, is inside, or would hide a protected directory. */
  check(path: string, field: string): void {
    for (const dir of this.dirs) {
      if (isAtOrBelow(path, dir)) {
        throw new InvalidArgumentError(`${field}: ${quote(path)} is inside ${quote(dir)}, which nixmount protects (its state or the Nix store)`);
      }
      if (isBelow(dir, path)) {
        throw new InvalidArgumentError(`${field}: ${quote(path)} contains ${quote(dir)}, which nixmount protects; a mount there would hide it`);
      }
    }
  }
}

/** What the composition protects: the state dir, /nix and the store's physical `<root>/nix`. */
export function defaultProtectedDirs(stateDir: string, storeRoot: string): string[] {
  return [resolve(stateDir), '/nix', resolve(storeRoot, 'nix')];
}
