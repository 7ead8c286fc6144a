import { InvalidArgumentError } from '../../core/errors.js';
import { assertAbsolutePath, isBelow } from '../common/paths.js';

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
 * (`per-alloc/<allocID>/<volumeID>/<usage>`) paths.
 */
export function checkNomadPath(path: string, base: string, kind: 'staging' | 'per-alloc', field: string): void {
  assertAbsolutePath(path, field);
  const shape = `${base}/${kind}/${kind === 'staging' ? '<namespace>' : '<allocID>'}/<volumeID>/<usage>`;
  const root = `${base.replace(/\/+$/, '')}/${kind}`;
  const rest = isBelow(path, root) ? path.slice(root.length + 1).split('/') : [];
  if (rest.length !== 3 || rest.some((segment) => segment === '' || segment === '.')) {
    throw new InvalidArgumentError(`${field}: "${path}" is not a Nomad ${kind} path ${shape}`);
  }
  if (!USAGE.test(rest[2]!)) {
    throw new InvalidArgumentError(`${field}: "${path}" ends in "${rest[2]}", not a Nomad usage {ro|rw}-<attachment>-<access> (${shape})`);
  }
}
