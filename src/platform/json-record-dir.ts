import { mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from '../core/ports/logger.js';
import type { MountRecordStore, PutOptions } from '../core/ports/record-store.js';
import { replaceFile, syncDirectory } from './atomic-file.js';

const LOAD_BATCH = 32;

export interface RecordDirOptions<T> {
  dir: string;
  keyOf: (record: T) => string;
  /** True only for a value that is exactly a record; anything else is quarantined at load. */
  isRecord: (value: unknown) => value is T;
  /** Where unreadable files are moved, so they are reported once and never half-believed. */
  quarantineDir: string;
}

/**
 * Records as one JSON file each in one directory, mirrored in memory. Each file is
 * written aside and renamed into place, so a crash leaves the old record or the new
 * one, and synced before the put resolves (unless the caller asks for no
 * durability), so a reload sees every record that was acknowledged (a power loss
 * during a put, or after an unsynced one, may leave an empty file: set aside at
 * load). A record leaves memory only once its file is gone, so a failed delete is
 * retried, never forgotten and resurrected by the next start. Deleting an absent
 * record is not an error.
 */
export class JsonRecordDir<T> implements MountRecordStore<T> {
  private readonly records = new Map<string, T>();

  constructor(
    private readonly options: RecordDirOptions<T>,
    private readonly log: Logger,
  ) {}

  async load(): Promise<void> {
    const { dir } = this.options;
    await mkdir(dir, { recursive: true });
    this.records.clear();
    const names = await readdir(dir);
    // Read LOAD_BATCH at a time (1,000 records load in tens of ms, and never near the open-file
    // limit, where a failed open would look like an unreadable record); set aside in order.
    const problems: Array<string | undefined> = [];
    for (let i = 0; i < names.length; i += LOAD_BATCH) {
      problems.push(
        ...(await Promise.all(
          names.slice(i, i + LOAD_BATCH).map(async (name) => {
            const file = join(dir, name);
            if (name.endsWith('.tmp')) await unlink(file).catch(() => undefined); // a write a crash interrupted
            return name.endsWith('.json') ? this.read(file, name) : undefined;
          }),
        )),
      );
    }
    for (const [index, problem] of problems.entries()) if (problem) await this.quarantine(join(dir, names[index]!), problem);
  }

  get(key: string): T | undefined {
    return this.records.get(key);
  }

  list(): T[] {
    return [...this.records.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, record]) => record);
  }

  find(matches: (record: T) => boolean): T | undefined {
    for (const record of this.records.values()) if (matches(record)) return record;
    return undefined;
  }

  async put(record: T): Promise<void> {
    await this.putThen(record, async () => undefined);
  }

  async putThen<R>(record: T, next: () => Promise<R>, options: PutOptions = {}): Promise<R> {
    const { dir } = this.options;
    const key = this.options.keyOf(record);
    const write = () => replaceFile(join(dir, `${key}.json`), `${JSON.stringify(record, null, 2)}\n`, { sync: options.durable ?? true });
    // The directory is made by load (or the first put); made again only if it went.
    const { durable } = await write().catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
      await mkdir(dir, { recursive: true });
      return write();
    });
    // On disk for every reader now, so in memory too: a failure below leaves a record the caller's undo deletes.
    this.records.set(key, record);
    const [synced, done] = await Promise.allSettled([durable, next()]);
    if (synced.status === 'rejected') throw synced.reason;
    if (done.status === 'rejected') throw done.reason;
    return done.value;
  }

  async delete(key: string): Promise<void> {
    // Keys can come straight from callers: only a known key ever names a file.
    if (!this.records.has(key)) return;
    try {
      await unlink(join(this.options.dir, `${key}.json`));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await syncDirectory(this.options.dir);
    this.records.delete(key);
  }

  /** Loads one file; answers what is wrong with it, or nothing when it is a record. */
  private async read(file: string, name: string): Promise<string | undefined> {
    let value: unknown;
    try {
      value = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      return `not JSON (${(error as Error).message})`;
    }
    if (!this.options.isRecord(value)) return 'not a record of this kind (missing or mistyped fields)';
    const key = this.options.keyOf(value);
    if (`${key}.json` !== name) return `its key ${key} does not match its file name`;
    this.records.set(key, value);
    return undefined;
  }

  private async quarantine(file: string, problem: string): Promise<void> {
    const { quarantineDir, dir } = this.options;
    await mkdir(quarantineDir, { recursive: true });
    const aside = join(quarantineDir, `${basename(dir)}-${basename(file)}.${Date.now()}`);
    await rename(file, aside);
    await syncDirectory(dir);
    this.log.error(
      { file, movedTo: aside, problem },
      'unreadable record moved to quarantine; a mount of it, if any, keeps its view until it is unpublished',
    );
  }
}
