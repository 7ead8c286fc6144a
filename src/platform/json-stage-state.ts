import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import { Logger } from '../core/ports/logger.js';
import type { StageRecord, StageState } from '../core/ports/stage-state.js';
import { NodeSettings } from '../core/settings.js';
import { JsonRecordDir } from './json-record-dir.js';
import { isStageRecord } from '../core/record-shapes.js';

/** Stage records as one JSON file each under <state>/stages. */
@injectable()
export class JsonStageState implements StageState {
  private readonly records: JsonRecordDir<StageRecord>;

  constructor(@inject(NodeSettings) settings: NodeSettings, @inject(Logger) log: Logger) {
    this.records = new JsonRecordDir(
      { dir: join(settings.stateDir, 'stages'), keyOf: (record) => record.key, isRecord: isStageRecord, quarantineDir: join(settings.stateDir, 'quarantine') },
      log,
    );
  }

  load(): Promise<void> {
    return this.records.load();
  }

  get(key: string): StageRecord | undefined {
    return this.records.get(key);
  }

  list(): StageRecord[] {
    return this.records.list();
  }

  put(record: StageRecord): Promise<void> {
    return this.records.put(record);
  }

  delete(key: string): Promise<void> {
    return this.records.delete(key);
  }
}
