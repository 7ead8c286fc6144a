import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../core/ports/logger.js';
import { syncDirectory, writeFileAtomic } from './atomic-file.js';

/**
 * Records as one JSON file each in one directory, mirrored in memory. Each file is
 * written atomically, so a crash leaves the old record or the new one, and a reload
 * sees exactly the records that were acknowledged. Deleting an absent record is not an error.
 */
export class JsonRecordDir<T> {
  private readonly records = new Map<string, T>();

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
    private readonly keyOf: (record: T) => string,
  ) {}

  async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    this.records.clear();
    for (const name of await readdir(this.dir)) {
      const file = join(this.dir, name);
      if (name.endsWith('.tmp')) {
        await unlink(file).catch(() => undefined); // a write a crash interrupted
        continue;
      }
      if (!name.endsWith('.json')) continue;
      try {
        const record = JSON.parse(await readFile(file, 'utf8')) as T;
        this.records.set(this.keyOf(record), record);
      } catch (error) {
        this.log.error({ file, err: error }, 'unreadable record skipped');
      }
    }
  }

  get(key: string): T | undefined {
    return this.records.get(key);
  }

  list(): T[] {
    return [...this.records.values()];
  }

  async put(record: T): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const key = this.keyOf(record);
    await writeFileAtomic(join(this.dir, `${key}.json`), `${JSON.stringify(record, null, 2)}\n`);
    this.records.set(key, record);
  }

  async delete(key: string): Promise<void> {
    // Keys can come straight from callers: only a known key ever names a file.
    if (!this.records.has(key)) return;
    this.records.delete(key);
    try {
      await unlink(join(this.dir, `${key}.json`));
      await syncDirectory(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
