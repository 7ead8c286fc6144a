import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import type { ProvisionedVolume } from '../core/controller/provisioned-volume.js';
import type { ControllerState } from '../core/ports/controller-state.js';
import { Logger } from '../core/ports/logger.js';
import { NodeSettings } from '../core/settings.js';
import { JsonRecordDir } from './json-record-dir.js';
import { isProvisionedVolume } from '../core/record-shapes.js';

/** Controller records as one JSON file per volume under <state>/controller/volumes. */
@injectable()
export class JsonControllerState implements ControllerState {
  private readonly volumes: JsonRecordDir<ProvisionedVolume>;

  constructor(@inject(NodeSettings) settings: NodeSettings, @inject(Logger) log: Logger) {
    this.volumes = new JsonRecordDir(
      { dir: join(settings.stateDir, 'controller', 'volumes'), keyOf: (volume) => volume.volumeId, isRecord: isProvisionedVolume, quarantineDir: join(settings.stateDir, 'quarantine') },
      log,
    );
  }

  load(): Promise<void> {
    return this.volumes.load();
  }

  get(volumeId: string): ProvisionedVolume | undefined {
    return this.volumes.get(volumeId);
  }

  list(): ProvisionedVolume[] {
    return this.volumes.list().sort((a, b) => (a.volumeId < b.volumeId ? -1 : a.volumeId > b.volumeId ? 1 : 0));
  }

  put(volume: ProvisionedVolume): Promise<void> {
    return this.volumes.put(volume);
  }

  delete(volumeId: string): Promise<void> {
    return this.volumes.delete(volumeId);
  }
}
