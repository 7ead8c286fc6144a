import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import type { ProvisionedVolume } from '../core/controller/provisioned-volume.js';
import type { ControllerState } from '../core/ports/controller-state.js';
import { Logger } from '../core/ports/logger.js';
import { NodeSettings } from '../core/settings.js';
import { syncDirectory, writeFileAtomic } from './atomic-file.js';

/**
 * Controller records as one JSON file per volume under <state>/controller/volumes,
 * mirrored in memory. Each file is written atomically, so a crash leaves the old
 * record or the new one, and a reload sees exactly the volumes that were acknowledged.
 */
@injectable()
export class JsonControllerState implements ControllerState {
  private readonly volumes = new Map<string, ProvisionedVolume>();
  private readonly dir: string;

  constructor(
    @inject(NodeSettings) settings: NodeSettings,
    @inject(Logger) private readonly log: Logger,
  ) {
    this.dir = join(settings.stateDir, 'controller', 'volumes');
  }

  async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    this.volumes.clear();
    for (const name of await readdir(this.dir)) {
      const file = join(this.dir, name);
      if (name.endsWith('.tmp')) {
        await unlink(file).catch(() => undefined); // a write a crash interrupted
        continue;
      }
      if (!name.endsWith('.json')) continue;
      try {
        const volume = JSON.parse(await readFile(file, 'utf8')) as ProvisionedVolume;
        this.volumes.set(volume.volumeId, volume);
      } catch (error) {
        this.log.error({ file, err: error }, 'unreadable controller record skipped');
      }
    }
  }

  get(volumeId: string): ProvisionedVolume | undefined {
    return this.volumes.get(volumeId);
  }

  list(): ProvisionedVolume[] {
    return [...this.volumes.values()].sort((a, b) => (a.volumeId < b.volumeId ? -1 : a.volumeId > b.volumeId ? 1 : 0));
  }

  async put(volume: ProvisionedVolume): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(this.file(volume.volumeId), `${JSON.stringify(volume, null, 2)}\n`);
    this.volumes.set(volume.volumeId, volume);
  }

  async delete(volumeId: string): Promise<void> {
    // Unknown ids come straight from callers: never let one name a file outside the directory.
    if (!this.volumes.has(volumeId)) return;
    await unlink(this.file(volumeId)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await syncDirectory(this.dir);
    this.volumes.delete(volumeId);
  }

  private file(volumeId: string): string {
    return join(this.dir, `${volumeId}.json`);
  }
}
