import { join } from 'node:path';
import type { Closure } from './closures.js';
import { CsiVolumes, type VolumeRef } from './csi-volumes.js';
import { bareBind, hardlinkCopy } from './floors.js';
import { nixCsiVolume } from './nix-csi-baseline.js';
import type { PluginProcess } from './plugin-process.js';
import type { Scene } from './nixmount-scenarios.js';

export interface SizePoint {
  closure: Closure;
  cold: number[];
  copy: number[];
  warm: number[];
  bind: number[];
  nixCsi: number[];
}

/**
 * Cold publish against `cp -al`, warm publish against a bare bind, and nix-csi's
 * replayed publish, for one closure: the size curve's point for its file count.
 */
export async function sizePoint(scene: Scene, closure: Closure, runs: number, warmCount: number, nixCsiRuns: number): Promise<SizePoint> {
  const cold: number[] = [];
  const copy: number[] = [];
  for (let i = 0; i < runs; i++) {
    copy.push(await hardlinkCopy(closure.paths, join(scene.scratch, `size-cp-${i}`)));
    if ((await scene.plugin.viewDirs()).length > 0) throw new Error('a view survived its last volume; cold publish would be warm');
    const volume = await scene.volumes.newVolume('size-cold');
    cold.push(await scene.volumes.publish(volume, [closure.root]));
    await scene.volumes.unpublish(volume);
  }
  const anchor = await scene.volumes.newVolume('size-anchor');
  await scene.volumes.publish(anchor, [closure.root]);
  const warm: number[] = [];
  const bind: number[] = [];
  try {
    const [view] = await scene.plugin.viewDirs();
    for (let i = 0; i < warmCount; i++) {
      bind.push(await bareBind(join(view!, 'nix'), join(scene.scratch, `size-bind-${i}`)));
      const volume = await scene.volumes.newVolume('size-warm');
      warm.push(await scene.volumes.publish(volume, [closure.root]));
      await scene.volumes.unpublish(volume);
    }
  } finally {
    await scene.volumes.unpublish(anchor);
  }
  const nixCsi: number[] = [];
  for (let i = 0; i < nixCsiRuns; i++) {
    const volume = await nixCsiVolume(closure, join(scene.scratch, `size-nixcsi-${i}`), join(scene.scratch, `size-nixcsi-t-${i}`), scene.nodeStore, { measure: false });
    nixCsi.push(volume.publishMs);
  }
  return { closure, cold, copy, warm, bind, nixCsi };
}

export interface ScaleResult {
  volumes: number;
  views: number;
  /** Warm publish and unpublish with one volume on the node, and bare binds interleaved with them. */
  single: { publish: number[]; unpublish: number[]; bind: number[]; unbind: number[] };
  /** The same with `volumes` published over `views` views. */
  loaded: { publish: number[]; unpublish: number[]; bind: number[]; unbind: number[] };
  fillMs: number;
  rssLoaded: { rss: number; peak: number };
  restartReadyMs: number;
  rssAfterRestart: { rss: number; peak: number };
  plugin: PluginProcess;
}

async function pairs(volumes: CsiVolumes, root: string, view: string, scratch: string, count: number, label: string) {
  const out = { publish: [] as number[], unpublish: [] as number[], bind: [] as number[], unbind: [] as number[] };
  for (let i = 0; i < count; i++) {
    out.bind.push(await bareBind(view, join(scratch, `${label}-bind-${i}`), out.unbind));
    const volume = await volumes.newVolume(label);
    out.publish.push(await volumes.publish(volume, [root]));
    out.unpublish.push(await volumes.unpublish(volume));
  }
  return out;
}

/**
 * The node under load: warm publish/unpublish pairs with one volume on it, then
 * with `total` volumes over `roots.length` views, then a restart that reloads all
 * records and reconciles the mount table (time to Probe ready), then every volume
 * unpublished. Returns the plugin now running (the restart replaced it).
 */
export async function scaleScenario(start: PluginProcess, targetsDir: string, scratch: string, roots: readonly string[], total: number, samples: number): Promise<ScaleResult> {
  let plugin = start;
  let volumes = new CsiVolumes(plugin, targetsDir);
  const published: VolumeRef[] = [];
  const first = await volumes.newVolume('scale');
  await volumes.publish(first, [roots[0]!]);
  published.push(first);
  const [viewDir] = await plugin.viewDirs();
  const view = join(viewDir!, 'nix');
  const single = await pairs(volumes, roots[0]!, view, scratch, samples, 'scale-single');
  const fillStart = process.hrtime.bigint();
  for (let i = 1; i < total; i++) {
    const volume = await volumes.newVolume('scale');
    await volumes.publish(volume, [roots[i % roots.length]!]);
    published.push(volume);
  }
  const fillMs = Number(process.hrtime.bigint() - fillStart) / 1e6;
  (globalThis as { gc?: () => void }).gc?.();
  const loaded = await pairs(volumes, roots[0]!, view, scratch, samples, 'scale-loaded');
  const rssLoaded = await plugin.residentBytes();
  plugin = await plugin.restart();
  const restartReadyMs = plugin.readyMs;
  volumes = new CsiVolumes(plugin, targetsDir);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const rssAfterRestart = await plugin.residentBytes();
  const failures: string[] = [];
  for (const volume of published) await volumes.unpublish(volume).catch((error: unknown) => failures.push(String(error)));
  if (failures.length > 0) throw new Error(`${failures.length} unpublishes after the restart failed, first: ${failures[0]}`);
  return { volumes: total, views: roots.length, single, loaded, fillMs, rssLoaded, restartReadyMs, rssAfterRestart, plugin };
}
