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

/**
 * Durable stage records, with the semantics of VolumeState: `put` replaces
 * atomically; `delete` of an absent record is not an error; `load` rebuilds the
 * in-memory index from disk.
 */
export interface StageState {
  load(): Promise<void>;
  get(key: string): StageRecord | undefined;
  list(): StageRecord[];
  put(record: StageRecord): Promise<void>;
  delete(key: string): Promise<void>;
}
