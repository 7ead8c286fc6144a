import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { mountCapability } from '../src/csi/csi-client.js';
import type { PluginProcess } from './plugin-process.js';
import { timed } from './stats.js';

export interface VolumeRef {
  volumeId: string;
  targetPath: string;
}

/** Read-only volumes published and unpublished over the plugin's CSI socket, as an orchestrator would. */
export class CsiVolumes {
  private next = 0;

  constructor(
    private readonly plugin: PluginProcess,
    private readonly targetsDir: string,
  ) {}

  /** A fresh volume id and target; the target's parent exists, as orchestrators guarantee. */
  async newVolume(label: string): Promise<VolumeRef> {
    const name = `${label}-${this.next++}`;
    await mkdir(join(this.targetsDir, name), { recursive: true });
    return { volumeId: `bench-${name}`, targetPath: join(this.targetsDir, name, 'mount') };
  }

  async publish(volume: VolumeRef, roots: readonly string[]): Promise<number> {
    const { ms } = await timed(() =>
      this.plugin.client.call('node', 'NodePublishVolume', {
        volume_id: volume.volumeId,
        target_path: volume.targetPath,
        volume_capability: mountCapability('MULTI_NODE_READER_ONLY'),
        readonly: true,
        volume_context: { paths: roots.join(' ') },
      }),
    );
    return ms;
  }

  async unpublish(volume: VolumeRef): Promise<number> {
    const { ms } = await timed(() =>
      this.plugin.client.call('node', 'NodeUnpublishVolume', { volume_id: volume.volumeId, target_path: volume.targetPath }),
    );
    return ms;
  }
}
