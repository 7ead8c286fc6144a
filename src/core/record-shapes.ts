import type { ProvisionedVolume } from './controller/provisioned-volume.js';
import type { StageRecord } from './ports/stage-state.js';
import type { VolumeRecord } from './ports/volume-state.js';

/**
 * Shape checks for records read back from disk. A file a crash, a full disk or a
 * person truncated or edited must never be half-believed: anything that is not
 * exactly a record is set aside (quarantined) by the store that reads it.
 */
type Check = (value: unknown) => boolean;

const string: Check = (value) => typeof value === 'string';
const nonEmpty: Check = (value) => typeof value === 'string' && value.length > 0;
const boolean: Check = (value) => typeof value === 'boolean';
const stringList: Check = (value) => Array.isArray(value) && value.every((item) => typeof item === 'string');
const optional = (check: Check): Check => (value) => value === undefined || check(value);
const count: Check = (value) => Number.isSafeInteger(value) && (value as number) >= 0;
const key: Check = (value) => typeof value === 'string' && /^[0-9a-f]{32}$/.test(value);

function shaped(fields: Record<string, Check>): (value: unknown) => boolean {
  return (value) =>
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.entries(fields).every(([name, check]) => check((value as Record<string, unknown>)[name]));
}

const holding = {
  key,
  volumeId: nonEmpty,
  requestFingerprint: string,
  viewKey: key,
  roots: stringList,
  createdPath: optional(boolean),
  mountId: optional(count),
};

export const isVolumeRecord = shaped({
  ...holding,
  targetPath: nonEmpty,
  readonly: boolean,
  accessMode: nonEmpty,
  overlayDir: optional(nonEmpty),
  stagingPath: optional(nonEmpty),
  publishedAt: string,
  // Optional: records written before origins existed are read (as CSI's), not set aside.
  origin: optional((value) => value === 'csi' || value === 'host-volume'),
}) as (value: unknown) => value is VolumeRecord;

export const isStageRecord = shaped({
  ...holding,
  stagingPath: nonEmpty,
  stagedAt: string,
}) as (value: unknown) => value is StageRecord;

export const isProvisionedVolume = shaped({
  volumeId: nonEmpty,
  name: nonEmpty,
  parameters: (value) => typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string'),
  requiredBytes: string,
  limitBytes: string,
  fingerprint: string,
  createdAt: string,
}) as (value: unknown) => value is ProvisionedVolume;
