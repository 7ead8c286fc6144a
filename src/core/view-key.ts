import { createHash } from 'node:crypto';

import type { Presentation } from './view-presentation.js';

/**
 * Views are keyed by what they contain: the roots (they decide nix/var/result), the
 * full closure and how it is presented (a bind farm cannot be an overlay's lower, so a
 * read-write volume of the same closure needs a view of its own). Identical closures
 * share a view whatever named them; hardlink views keep the keys they always had.
 */
export function viewKey(roots: readonly string[], closure: readonly string[], presentation: Presentation = 'hardlink'): string {
  const hash = createHash('sha256');
  hash.update('nixmount-view-v1\n');
  if (presentation !== 'hardlink') hash.update(`presentation ${presentation}\n`);
  for (const root of [...roots].sort()) hash.update(`root ${root}\n`);
  for (const path of [...closure].sort()) hash.update(`path ${path}\n`);
  return hash.digest('hex').slice(0, 32);
}

/** Records are keyed by target path: Nomad gives every allocation of a volume the same volume id. */
export function volumeKey(targetPath: string): string {
  return createHash('sha256').update(targetPath).digest('hex').slice(0, 32);
}
