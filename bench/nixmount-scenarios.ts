import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { mountsBelow } from '../support/mounts.js';
import type { Closure } from './closures.js';
import type { CsiVolumes, VolumeRef } from './csi-volumes.js';
import { bareBind, hardlinkCopy } from './floors.js';
import type { PluginProcess } from './plugin-process.js';
import { timed } from './stats.js';
import { inodeSharing, unsharedBytes } from './tree-usage.js';

export interface Scene {
  plugin: PluginProcess;
  volumes: CsiVolumes;
  closure: Closure;
  /** Scratch dir for floors. */
  scratch: string;
  /** Where the targets live (to find mounts). */
  targetsDir: string;
  nodeStore: ReadonlySet<string>;
}

async function onlyView(plugin: PluginProcess): Promise<string> {
  const views = await plugin.viewDirs();
  if (views.length !== 1) throw new Error(`expected one view, found ${views.length}`);
  return join(views[0]!, 'nix');
}

/** Cold publish (view built, then collected on unpublish) interleaved with `cp -al` of the same closure. */
export async function coldVsCopy(scene: Scene, runs: number) {
  const cold: number[] = [];
  const copy: number[] = [];
  let sharing = { files: 0, shared: 0 };
  for (let i = 0; i < runs; i++) {
    copy.push(await hardlinkCopy(scene.closure.paths, join(scene.scratch, `cp-${i}`)));
    if ((await scene.plugin.viewDirs()).length > 0) throw new Error('a view survived its last volume; cold publish would be warm');
    const volume = await scene.volumes.newVolume('cold');
    cold.push(await scene.volumes.publish(volume, [scene.closure.root]));
    if (i === 0) sharing = await inodeSharing(join(volume.targetPath, 'store'), scene.closure.paths);
    await scene.volumes.unpublish(volume);
  }
  return { cold, copy, sharing };
}

/**
 * With one volume holding the view: `count` publishes over CSI, each followed by its
 * unpublish, interleaved with bare bind mounts of the same view. Then the disk that
 * `extra` more volumes add while all stay published.
 */
export async function warmVsBind(scene: Scene, count: number, extra: number) {
  const anchor = await scene.volumes.newVolume('anchor');
  await scene.volumes.publish(anchor, [scene.closure.root]);
  try {
    const view = await onlyView(scene.plugin);
    const warm: number[] = [];
    const bind: number[] = [];
    const unpublish: number[] = [];
    const unbind: number[] = [];
    for (let i = 0; i < count; i++) {
      bind.push(await bareBind(view, join(scene.scratch, `bind-${i}`), unbind));
      const volume = await scene.volumes.newVolume('warm');
      warm.push(await scene.volumes.publish(volume, [scene.closure.root]));
      unpublish.push(await scene.volumes.unpublish(volume));
    }
    const extraDiskPerVolume = await diskPerExtraVolume(scene, extra);
    return { warm, bind, unpublish, unbind, extraDiskPerVolume };
  } finally {
    await scene.volumes.unpublish(anchor);
  }
}

/**
 * Bytes that `extra` more read-only volumes of the cached closure add, per volume:
 * new inodes under the state dir and the targets (hardlinks to the node store are
 * free), plus one directory block per target the plugin created (under the mount).
 */
async function diskPerExtraVolume(scene: Scene, extra: number): Promise<number> {
  const usage = async () => {
    const mounts = new Set(await mountsBelow(scene.targetsDir));
    return unsharedBytes([scene.plugin.stateDir, scene.targetsDir], scene.nodeStore, mounts);
  };
  const before = await usage();
  const volumes: VolumeRef[] = [];
  try {
    for (let i = 0; i < extra; i++) {
      const volume = await scene.volumes.newVolume('extra');
      volumes.push(volume);
      await scene.volumes.publish(volume, [scene.closure.root]);
    }
    const after = await usage();
    const targetDirBlock = (await statfs(scene.targetsDir)).bsize;
    // The parent dirs were made by the bench (the orchestrator's part), not by the plugin.
    const parentDirs = await unsharedBytes(volumes.map((v) => join(v.targetPath, '..')), scene.nodeStore, new Set(volumes.map((v) => v.targetPath)));
    return (after - before - parentDirs) / extra + targetDirBlock;
  } finally {
    for (const volume of volumes) await scene.volumes.unpublish(volume);
  }
}

/** `count` publishes of the same closure (no view yet) issued at once. */
export async function concurrentPublishes(scene: Scene, closures: readonly Closure[], count: number) {
  const builtBefore = scene.plugin.viewsBuiltCount;
  const volumes = await Promise.all(Array.from({ length: count }, () => scene.volumes.newVolume('burst')));
  try {
    const { ms, value: outcomes } = await timed(() =>
      Promise.allSettled(volumes.map((volume, i) => scene.volumes.publish(volume, [closures[i % closures.length]!.root]))),
    );
    const failures = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [String(outcome.reason)] : []));
    if (failures.length > 0) console.error(`bench: ${failures.length} concurrent publishes failed, first: ${failures[0]}`);
    const mounted = new Set(await mountsBelow(scene.targetsDir));
    return {
      wallMs: ms,
      failed: failures.length,
      viewsBuilt: scene.plugin.viewsBuiltCount - builtBefore,
      viewsOnDisk: (await scene.plugin.viewDirs()).length,
      mounted: volumes.filter((volume) => mounted.has(volume.targetPath)).length,
    };
  } finally {
    await Promise.all(volumes.map((volume) => scene.volumes.unpublish(volume).catch(() => undefined)));
  }
}
