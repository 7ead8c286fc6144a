import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import { Logger } from '../core/ports/logger.js';
import type { VolumeRecord, VolumeState } from '../core/ports/volume-state.js';
import { NodeSettings } from '../core/settings.js';
import { syncDirectory, writeFileAtomic } from './atomic-file.js';

/** Volume records as one JSON file each under <state>/volumes, mirrored in memory. */
@injectable()
export class JsonVolumeState implements VolumeState {
  private readonly records = new Map<string, VolumeRecord>();
  private readonly dir: string;

  constructor(
    @inject(NodeSettings) settings: NodeSettings,
    @inject(Logger) private readonly log: Logger,
  ) {
    this.dir = join(settings.stateDir, 'volumes');
  }

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
        const record = JSON.parse(await readFile(file, 'utf8')) as VolumeRecord;
        this.records.set(record.key, record);
      } catch (error) {
        this.log.error({ file, err: error }, 'unreadable volume record skipped');
      }
    }
  }

  get(key: string): VolumeRecord | undefined {
    return this.records.get(key);
  }

  list(): VolumeRecord[] {
    return [...this.records.values()];
  }

  async put(record: VolumeRecord): Promise<void> {
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
