/**
 * Durable records, one per key, mirrored in memory. Semantics: `put` replaces
 * atomically; `delete` of an absent record is not an error, and a record leaves
 * memory only once it is gone from disk (a failed delete is retried, never
 * forgotten); `load` rebuilds the index from disk and sets aside what is not a
 * record; `list` is sorted by key.
 */
export interface RecordStore<T> {
  load(): Promise<void>;
  get(key: string): T | undefined;
  list(): T[];
  put(record: T): Promise<void>;
  delete(key: string): Promise<void>;
}
