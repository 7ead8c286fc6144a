import { isAbsolute } from 'node:path';
import { InvalidArgumentError } from '../../core/errors.js';

/** Every adapter's first check on a path an orchestrator sent. */
export function assertAbsolutePath(path: string, field: string): void {
  if (!isAbsolute(path) || path.split('/').includes('..')) {
    throw new InvalidArgumentError(`${field}: "${path}" must be an absolute path without ".."`);
  }
}

/** True when `path` lies strictly below `base`. */
export function isBelow(path: string, base: string): boolean {
  const prefix = base.endsWith('/') ? base : `${base}/`;
  return path.startsWith(prefix) && path.length > prefix.length;
}
