import type { AccessMode } from './volume-request.js';

/** Access modes that never write: their volumes are read-only whatever the request's flag says. */
export const READER_MODES: ReadonlySet<string> = new Set(['single-node-reader-only', 'multi-node-reader-only']);

export function isReaderMode(mode: AccessMode | string): boolean {
  return READER_MODES.has(mode);
}
