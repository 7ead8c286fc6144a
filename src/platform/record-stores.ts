import { join } from 'node:path';
import type { ProvisionedVolume } from '../core/controller/provisioned-volume.js';
import type { Logger } from '../core/ports/logger.js';
import type { StageRecord } from '../core/ports/stage-state.js';
import type { VolumeRecord } from '../core/ports/volume-state.js';
import { isProvisionedVolume, isStageRecord, isVolumeRecord } from '../core/record-shapes.js';
import { JsonRecordDir } from './json-record-dir.js';

/** Where each kind of record lives under the state directory; unreadable ones of every kind go to one quarantine. */
function recordsUnder<T>(stateDir: string, log: Logger, path: string[], keyOf: (record: T) => string, isRecord: (value: unknown) => value is T) {
  return new JsonRecordDir<T>({ dir: join(stateDir, ...path), keyOf, isRecord, quarantineDir: join(stateDir, 'quarantine') }, log);
}

/** <state>/volumes/<key>.json: one published volume each. */
export const volumeRecords = (stateDir: string, log: Logger) =>
  recordsUnder<VolumeRecord>(stateDir, log, ['volumes'], (record) => record.key, isVolumeRecord);

/** <state>/stages/<key>.json: one staged volume each (Nomad). */
export const stageRecords = (stateDir: string, log: Logger) =>
  recordsUnder<StageRecord>(stateDir, log, ['stages'], (record) => record.key, isStageRecord);

/** <state>/controller/volumes/<id>.json: one volume the controller created each. */
export const controllerRecords = (stateDir: string, log: Logger) =>
  recordsUnder<ProvisionedVolume>(stateDir, log, ['controller', 'volumes'], (volume) => volume.volumeId, isProvisionedVolume);
