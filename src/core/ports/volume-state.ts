import type { MountRecordStore } from './record-store.js';
import type { AccessMode } from '../volume-request.js';
import type { VolumeOrigin } from '../volume-origin.js';

export const VolumeState = Symbol('VolumeState');


/** What the node remembers about one published volume (one target path). */
export interface VolumeRecord {
  key: string;
  volumeId: string;
  targetPath: string;
  readonly: boolean;
  accessMode: AccessMode;
  /** Fingerprint of the request that created it, for ALREADY_EXISTS vs idempotent OK. */
  requestFingerprint: string;
  viewKey: string;
  roots: string[];
  /** Per-volume overlay directory (upper, work) for read-write volumes. */
  overlayDir?: string;
  /** This plugin created the target directory, so unpublishing removes it; absent means it did not. */
  createdPath?: boolean;
  /** The kernel's id of the mount made at the target: how an unpublish finds it once the path no longer leads there. */
  mountId?: number;
  /** The staging path this publish mounted from, when the volume was staged first. */
  stagingPath?: string;
  publishedAt: string;
  /**
   * Who published it. Absent in records written before records had an origin: how
   * those are read is `mayActOn`'s (record-origin).
   */
  origin?: VolumeOrigin;
}

/** Published volumes, keyed by volumeKey(target path). */
export type VolumeState = MountRecordStore<VolumeRecord>;
