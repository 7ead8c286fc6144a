import { FailedPreconditionError } from './errors.js';
import type { VolumeRecord } from './ports/volume-state.js';
import type { VolumeOrigin } from './volume-origin.js';

type Origins = Pick<VolumeRecord, 'origin' | 'volumeId' | 'targetPath' | 'accessMode' | 'stagingPath'>;

// The only modes a host volume is published with (host-volume-operations).
const HOST_VOLUME_MODES: ReadonlySet<string> = new Set(['single-node-reader-only', 'single-node-writer']);

/**
 * Whether a call from `origin` may act on `record` (republish it, unpublish it, count it
 * as its volume). A record with an origin belongs to that side only. A record written
 * before records had one is ambiguous only when it could be a host volume's: a host
 * volume is always at `<volumes dir>/<its id>`, never staged, in one of two modes. A
 * CSI volume kubelet or Nomad publishes is at `…/mount` or `…/<usage>`, so almost every
 * old record is plainly CSI's; the few that could be either stay either side's, as they
 * were, until a publish of the same volume claims them (see `claimed`).
 */
export function mayActOn(record: Origins, origin: VolumeOrigin): boolean {
  if (record.origin !== undefined) return record.origin === origin;
  return origin === 'csi' || couldBeHostVolume(record);
}

function couldBeHostVolume(record: Origins): boolean {
  const last = record.targetPath.slice(record.targetPath.lastIndexOf('/') + 1);
  return last === record.volumeId && record.stagingPath === undefined && HOST_VOLUME_MODES.has(record.accessMode);
}

/** The record as `origin` republished it: an old record, once claimed, is that side's alone. */
export function claimed<R extends Origins>(record: R, origin: VolumeOrigin): R | undefined {
  return record.origin === undefined ? { ...record, origin } : undefined;
}

const SIDES: Record<VolumeOrigin, string> = { csi: 'a CSI volume', 'host-volume': 'a Nomad host volume' };
const HOW_TO_REMOVE: Record<VolumeOrigin, string> = {
  csi: 'nixmount\'s host volume plugin does not remove it; unpublish it through its orchestrator',
  'host-volume': 'delete it with Nomad (nomad volume delete)',
};

/** The refusal of a call from `origin` on the other side's record: nothing changes. */
export function otherOrigin(record: Origins, origin: VolumeOrigin): FailedPreconditionError {
  const holder: VolumeOrigin = origin === 'csi' ? 'host-volume' : 'csi';
  return new FailedPreconditionError(
    `${record.targetPath} holds ${SIDES[holder]} (${record.volumeId}), not ${SIDES[origin]}; ${HOW_TO_REMOVE[holder]}`,
  );
}
