import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { parseUserContext } from '../volume-context.js';
import { specFingerprint } from '../volume-spec.js';

/** A requested size range in bytes; 0 means "not given" (as in CSI). */
export interface CapacityRange {
  requiredBytes: bigint;
  limitBytes: bigint;
}

/** What CreateVolume asked for, in orchestrator-neutral words. */
export interface CreateVolumeRequest {
  name: string;
  /** The user keys of a volume context (paths, <system>, expression, flakeRef). */
  parameters: Readonly<Record<string, string>>;
  capacity: CapacityRange;
}

/** A volume the controller created: enough to answer every controller RPC about it. */
export interface ProvisionedVolume {
  volumeId: string;
  name: string;
  /** The parameters as given; they are also the volume context nodes publish from. */
  parameters: Record<string, string>;
  /** Decimal strings: JSON has no 64-bit integers. */
  requiredBytes: string;
  limitBytes: string;
  /** Tells an idempotent retry (same) from a conflicting request (different) for one name. */
  fingerprint: string;
  createdAt: string;
}

const VOLUME_ID_PREFIX = 'nixmount-';
const VOLUME_ID = /^nixmount-[0-9a-f]{40}$/;

/**
 * Volume ids are derived from the name alone, so a retried CreateVolume gets the
 * same id even from a controller that lost its state, and no name can collide.
 */
export function volumeIdFor(name: string): string {
  return VOLUME_ID_PREFIX + createHash('sha256').update(`nixmount-volume-v1\n${name}`).digest('hex').slice(0, 40);
}

export function isVolumeId(text: string): boolean {
  return VOLUME_ID.test(text);
}

/** Checks the range the CSI spec allows: nothing negative, and a limit not below the requirement. */
export function checkCapacity(capacity: CapacityRange): void {
  if (capacity.requiredBytes < 0n) throw new InvalidArgumentError(`capacity_range.required_bytes: ${capacity.requiredBytes} is negative`);
  if (capacity.limitBytes < 0n) throw new InvalidArgumentError(`capacity_range.limit_bytes: ${capacity.limitBytes} is negative`);
  if (capacity.limitBytes > 0n && capacity.limitBytes < capacity.requiredBytes) {
    throw new InvalidArgumentError(
      `capacity_range: limit_bytes ${capacity.limitBytes} is below required_bytes ${capacity.requiredBytes}`,
    );
  }
}

/**
 * The parameters are validated as a volume context (a node will read them as one),
 * and the capacity range is part of the identity: CSI says the same name with an
 * incompatible range is ALREADY_EXISTS, and a Nix volume has no size to compare with.
 */
export function requestFingerprint(request: CreateVolumeRequest): string {
  const spec = parseUserContext(request.parameters);
  return JSON.stringify({
    spec: specFingerprint(spec),
    required: request.capacity.requiredBytes.toString(),
    limit: request.capacity.limitBytes.toString(),
  });
}
