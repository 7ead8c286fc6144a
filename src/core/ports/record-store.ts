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

/** The records mounts are written with (volumes, stages): a put can overlap its sync with the mount. */
export interface MountRecordStore<T> extends RecordStore<T> {
  /**
   * `put`, with `next` run as soon as the new record is in place for every process
   * (so a crash of this one from then on leaves it) while the write is made durable
   * (the file and directory syncs, the slow part on a busy disk);
   * resolves with `next`'s answer once both are done, rejects if either failed (the
   * record then stays, for the caller to delete). A publish mounts meanwhile: no
   * crash can leave the mount without its record, and a power loss takes the mount too.
   *
   * `durable: false` skips the syncs: for a record whose only use is to describe
   * kernel state a power loss takes with it (see MountLifecycle.attach). It is still
   * written aside and renamed, so a crash of the process leaves the whole record.
   */
  putThen<R>(record: T, next: () => Promise<R>, options?: PutOptions): Promise<R>;
  /**
   * A record `matches`, in no particular order, or undefined: the question asked on
   * every publish and unpublish (does a record hold this view?), which must not cost
   * a sorted copy of every record on a node holding a thousand.
   */
  find(matches: (record: T) => boolean): T | undefined;
}

export interface PutOptions {
  /** Sync the file and its directory before resolving (the default). */
  durable?: boolean;
}
