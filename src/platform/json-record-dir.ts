import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../core/ports/logger.js';
import { syncDirectory, writeFileAtomic } from './atomic-file.js';

/** Records as one JSON file each in one directory, mirrored in memory; writes are atomic. */
export class JsonRecordDir<T extends { key: string }> {
  private readonly records = new Map<string, T>();

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
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
        this.records.set(record.key, record);
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
    await writeFileAtomic(join(this.dir, `${record.key}.json`), `${JSON.stringify(record, null, 2)}\n`);
    this.records.set(record.key, record);
  }

  async delete(key: string): Promise<void> {
    this.records.delete(key);
    try {
      await unlink(join(this.dir, `${key}.json`));
      await syncDirectory(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
