import { InvalidArgumentError } from '../../core/errors.js';
import { quote } from '../../core/quote.js';
import { assertNoSymlinkBelow, canonicalPath, isBelow, ProtectedDirs } from '../common/paths.js';

export const DEFAULT_STAGE_PUBLISH_BASE_DIR = '/local/csi';

export const NOMAD_ACCESS_MODES = [
  'single-node-reader-only',
  'single-node-writer',
  'multi-node-reader-only',
  'multi-node-single-writer',
  'multi-node-multi-writer',
] as const;
export type NomadAccessMode = (typeof NOMAD_ACCESS_MODES)[number];

export const NOMAD_ATTACHMENT_MODES = ['file-system', 'block-device'] as const;

/** Nomad's `<usage>` path segment: `{ro|rw}-<attachment>-<access>`, e.g. ro-file-system-multi-node-reader-only. */
export function usageSegment(readOnly: boolean, attachmentMode: string, accessMode: string): string {
  return `${readOnly ? 'ro' : 'rw'}-${attachmentMode}-${accessMode}`;
}

const USAGE = new RegExp(`^(ro|rw)-(${NOMAD_ATTACHMENT_MODES.join('|')})-(${NOMAD_ACCESS_MODES.join('|')})$`);

/**
 * Checks that `path` is `<base>/<kind>/<a>/<b>/<usage>`, the shape a Nomad client
 * builds for staging (`staging/<namespace>/<volumeID>/<usage>`) and publish
 * (`per-alloc/<allocID>/<volumeID>/<usage>`) paths, and returns its canonical form.
 * No existing component below the base dir may be a symlink (an allocation can plant one
 * in its own directories), and nothing nixmount protects may be in or below it.
 */
export function checkNomadPath(path: string, base: string, kind: 'staging' | 'per-alloc', field: string, protectedDirs = new ProtectedDirs([])): string {
  const canonical = canonicalPath(path, field);
  const shape = `${base}/${kind}/${kind === 'staging' ? '<namespace>' : '<allocID>'}/<volumeID>/<usage>`;
  const canonicalBase = canonicalPath(base, '--stage-publish-base-dir');
  const root = `${canonicalBase === '/' ? '' : canonicalBase}/${kind}`;
  const rest = isBelow(canonical, root) ? canonical.slice(root.length + 1).split('/') : [];
  if (rest.length !== 3) {
    throw new InvalidArgumentError(`${field}: ${quote(path)} is not a Nomad ${kind} path ${shape}`);
  }
  if (!USAGE.test(rest[2]!)) {
    throw new InvalidArgumentError(`${field}: ${quote(path)} ends in ${quote(rest[2]!)}, not a Nomad usage {ro|rw}-<attachment>-<access> (${shape})`);
  }
  assertNoSymlinkBelow(canonical, canonicalBase, field);
  protectedDirs.check(canonical, field);
  return canonical;
}
