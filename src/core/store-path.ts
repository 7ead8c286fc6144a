import { InvalidArgumentError } from './errors.js';
import { LIMITS } from './limits.js';
import { quote } from './quote.js';

export const STORE_DIR = '/nix/store';

// Nix's base-32 alphabet omits e, o, u and t; a store path name is 32 of those,
// a dash and a name of at most 211 characters from a small set (no leading dot).
const STORE_PATH = /^\/nix\/store\/[0-9abcdfghijklmnpqrsvwxyz]{32}-[A-Za-z0-9+\-_?=][A-Za-z0-9+\-._?=]{0,210}$/;

/** Throws InvalidArgumentError naming `key` and the bad value (quoted, bounded) unless `value` is a store path. */
export function assertStorePath(value: string, key: string): string {
  if (!value.startsWith(`${STORE_DIR}/`)) {
    throw new InvalidArgumentError(`${key}: ${quote(value)} is not under ${STORE_DIR}/`);
  }
  if (value.split('/').includes('..')) {
    throw new InvalidArgumentError(`${key}: ${quote(value)} contains "..", which is never a store path`);
  }
  if (value.slice(STORE_DIR.length + 1).includes('/')) {
    throw new InvalidArgumentError(`${key}: ${quote(value)} points inside a store path; name the store path itself`);
  }
  if (!STORE_PATH.test(value)) {
    throw new InvalidArgumentError(
      `${key}: ${quote(value)} is not a well-formed store path (expected ${STORE_DIR}/<32-character hash>-<name>)`,
    );
  }
  return value;
}

/**
 * Splits a whitespace/newline separated list of store paths, validating each. More
 * than the per-volume limit is refused before any path is looked at, let alone asked of Nix.
 */
export function parseStorePathList(text: string, key: string): string[] {
  const paths = text.split(/\s+/).filter((entry) => entry.length > 0);
  if (paths.length === 0) {
    throw new InvalidArgumentError(`${key}: no store path given`);
  }
  if (paths.length > LIMITS.storePaths) {
    throw new InvalidArgumentError(`${key}: ${paths.length} store paths given; the limit is ${LIMITS.storePaths} per volume`);
  }
  return paths.map((entry) => assertStorePath(entry, key));
}

export function storePathName(storePath: string): string {
  return storePath.slice(STORE_DIR.length + 1 + 33);
}
