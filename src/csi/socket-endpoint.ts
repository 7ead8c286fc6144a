import { lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';

/** The filesystem path of a `unix://` endpoint (CSI_ENDPOINT style). */
export function socketPath(endpoint: string): string {
  const path = endpoint.replace(/^unix:\/\//, '');
  if (!endpoint.startsWith('unix://') && !endpoint.startsWith('/')) {
    throw new InvalidArgumentError(`endpoint "${endpoint}" must be unix:///path/to/csi.sock`);
  }
  if (!path.startsWith('/')) throw new InvalidArgumentError(`endpoint "${endpoint}" must name an absolute socket path`);
  return path;
}

/** A socket left by a previous run would make bind fail with EADDRINUSE; remove it (only if it is a socket). */
export async function prepareSocket(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  try {
    const stats = await lstat(path);
    if (!stats.isSocket()) throw new InvalidArgumentError(`${path} exists and is not a socket; refusing to replace it`);
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
