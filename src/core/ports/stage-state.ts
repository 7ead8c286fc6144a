import type { MountRecordStore } from './record-store.js';
export const StageState = Symbol('StageState');

/** What the node remembers about one staged volume (one staging path). */
export interface StageRecord {
  /** volumeKey(stagingPath). */
  key: string;
  volumeId: string;
  stagingPath: string;
  /** Fingerprint of the stage request, for ALREADY_EXISTS vs idempotent OK. */
  requestFingerprint: string;
  /** The view this stage holds; publishes from the staging path mount it without resolving again. */
  viewKey: string;
  roots: string[];
  /** This plugin created the staging directory, so unstaging removes it; absent means it did not. */
  createdPath?: boolean;
  stagedAt: string;
}

/** Staged volumes, keyed by volumeKey(staging path). */
export type StageState = MountRecordStore<StageRecord>;
