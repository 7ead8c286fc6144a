import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import { Logger } from '../core/ports/logger.js';
import type { VolumeRecord, VolumeState } from '../core/ports/volume-state.js';
import { NodeSettings } from '../core/settings.js';
import { JsonRecordDir } from './json-record-dir.js';
import { isVolumeRecord } from '../core/record-shapes.js';

/** Volume records as one JSON file each under <state>/volumes. */
@injectable()
export class JsonVolumeState implements VolumeState {
  private readonly records: JsonRecordDir<VolumeRecord>;

  constructor(@inject(NodeSettings) settings: NodeSettings, @inject(Logger) log: Logger) {
    this.records = new JsonRecordDir(
      { dir: join(settings.stateDir, 'volumes'), keyOf: (record) => record.key, isRecord: isVolumeRecord, quarantineDir: join(settings.stateDir, 'quarantine') },
      log,
    );
  }

  load(): Promise<void> {
    return this.records.load();
  }

  get(key: string): VolumeRecord | undefined {
    return this.records.get(key);
  }

  list(): VolumeRecord[] {
    return this.records.list();
  }

  put(record: VolumeRecord): Promise<void> {
    return this.records.put(record);
  }

  delete(key: string): Promise<void> {
    return this.records.delete(key);
  }
}
