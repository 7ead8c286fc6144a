import { createHash } from 'node:crypto';

/**
 * Views are keyed by what they contain: the roots (they decide nix/var/result) and
 * the full closure. Identical closures share a view whatever named them.
 */
export function viewKey(roots: readonly string[], closure: readonly string[]): string {
  const hash = createHash('sha256');
  hash.update('nixmount-view-v1\n');
  for (const root of [...roots].sort()) hash.update(`root ${root}\n`);
  for (const path of [...closure].sort()) hash.update(`path ${path}\n`);
  return hash.digest('hex').slice(0, 32);
}

/** Records are keyed by target path: Nomad gives every allocation of a volume the same volume id. */
export function volumeKey(targetPath: string): string {
  return createHash('sha256').update(targetPath).digest('hex').slice(0, 32);
}
