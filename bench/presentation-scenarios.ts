import { lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isBindFarm } from '../src/platform/bind-farm.js';
import { bindFarmMounts, mountHeadroom, type Presentation } from '../src/core/view-presentation.js';
import type { Closure } from './closures.js';
import { CsiVolumes, type VolumeRef } from './csi-volumes.js';
import { bareBind, hardlinkCopy } from './floors.js';
import type { PluginProcess } from './plugin-process.js';
import { inodeSharing } from './tree-usage.js';

/** A plugin process and the volumes the bench publishes through it. */
export interface PresentationPlugin {
  plugin: PluginProcess;
  volumes: CsiVolumes;
}

export interface PresentationPoint {
  closure: { files: number; paths: number };
  /** Cold read-only publishes: the plugin with --view-mode hardlink (before) and the default auto (after). */
  cold: Record<Presentation, number[]>;
  /** `cp -al` of the same store paths: the hardlink farm alone. */
  copy: number[];
  warm: Record<Presentation, number[]>;
  unpublish: Record<Presentation, number[]>;
  /** Bare `mount --bind` of a view (and its umount): the warm floor. */
  bind: number[];
  unbind: number[];
  /** Regular files of an auto volume that are the node store's own inodes (every file is stat'ed). */
  sharing: { files: number; shared: number };
  /** Whether the auto plugin's view really was a bind farm and the other's hardlinks. */
  presented: Record<Presentation, boolean>;
}

const PRESENTATIONS = ['hardlink', 'bind-farm'] as const;

async function onlyViewDir(plugin: PluginProcess): Promise<string> {
  const views = await plugin.viewDirs();
  if (views.length !== 1) throw new Error(`expected one view, found ${views.length}`);
  return views[0]!;
}

/**
 * One closure published read-only by two plugins side by side, one per presentation,
 * the runs interleaved with `cp -al` (cold) and a bare bind (warm) so a busy machine
 * slows all of them alike. Cold: no view exists (each is collected with its last
 * volume); warm: one volume holds the view, each sample publishes and unpublishes another.
 */
export async function presentationPoint(by: Record<Presentation, PresentationPlugin>, closure: Closure, scratch: string, runs: number, warmCount: number): Promise<PresentationPoint> {
  const point: PresentationPoint = {
    closure: { files: closure.files, paths: closure.paths.length },
    cold: { hardlink: [], 'bind-farm': [] },
    copy: [],
    warm: { hardlink: [], 'bind-farm': [] },
    unpublish: { hardlink: [], 'bind-farm': [] },
    bind: [],
    unbind: [],
    sharing: { files: 0, shared: 0 },
    presented: { hardlink: false, 'bind-farm': false },
  };
  for (let i = 0; i < runs; i++) {
    point.copy.push(await hardlinkCopy(closure.paths, join(scratch, `presentation-cp-${i}`)));
    for (const presentation of PRESENTATIONS) {
      const { plugin, volumes } = by[presentation];
      if ((await plugin.viewDirs()).length > 0) throw new Error('a view survived its last volume; cold publish would be warm');
      const volume = await volumes.newVolume(`presentation-cold-${presentation}`);
      point.cold[presentation].push(await volumes.publish(volume, [closure.root]));
      if (i === 0) {
        point.presented[presentation] = (await isBindFarm(await onlyViewDir(plugin))) === (presentation === 'bind-farm');
        if (presentation === 'bind-farm') point.sharing = await inodeSharing(join(volume.targetPath, 'store'), closure.paths);
      }
      await volumes.unpublish(volume);
    }
  }
  const anchors: Array<[PresentationPlugin, VolumeRef]> = [];
  try {
    for (const presentation of PRESENTATIONS) {
      const anchor = await by[presentation].volumes.newVolume(`presentation-anchor-${presentation}`);
      await by[presentation].volumes.publish(anchor, [closure.root]);
      anchors.push([by[presentation], anchor]);
    }
    const view = join(await onlyViewDir(by.hardlink.plugin), 'nix');
    for (let i = 0; i < warmCount; i++) {
      point.bind.push(await bareBind(view, join(scratch, `presentation-bind-${i}`), point.unbind));
      for (const presentation of PRESENTATIONS) {
        const { volumes } = by[presentation];
        const volume = await volumes.newVolume(`presentation-warm-${presentation}`);
        point.warm[presentation].push(await volumes.publish(volume, [closure.root]));
        point.unpublish[presentation].push(await volumes.unpublish(volume));
      }
    }
  } finally {
    for (const [{ volumes }, anchor] of anchors) await volumes.unpublish(anchor);
  }
  return point;
}

export interface BudgetResult {
  volumes: number;
  paths: number;
  /** What the bench wrote into --mount-max-file, the mounts present then, and the bind-farm volumes that budget fits. */
  mountMax: number;
  mountsBefore: number;
  expectedFarms: number;
  /** Volumes found holding a bind farm or hardlinks, from each target's store directories. */
  farms: number;
  hardlinks: number;
  /** The plugin's own count: nixmount_view_presentations_total over the fill, by presentation and reason. */
  counted: Record<string, number>;
  mountsLoaded: number;
  /** Warm publish/unpublish pairs with one volume on the node (a bind farm), then with all of them (a hardlink fallback). */
  single: { publish: number[]; unpublish: number[]; bind: number[]; unbind: number[]; presentation: Presentation };
  loaded: { publish: number[]; unpublish: number[]; bind: number[]; unbind: number[]; presentation: Presentation };
  fillMs: number;
  drainMs: number;
}

const mountCount = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter(Boolean).length;

/**
 * The smallest fs.mount-max whose budget (less the headroom and the mounts present)
 * fits `farms` bind-farm volumes of a `paths`-path closure, and half a volume more:
 * the first builds the farm, each other adds its own tree.
 */
export function mountMaxFitting(paths: number, farms: number, used: number): number {
  const wanted = bindFarmMounts(paths, false) + (farms - 1) * bindFarmMounts(paths, true) + Math.floor(bindFarmMounts(paths, true) / 2);
  let max = used + wanted;
  while (max - mountHeadroom(max) - used < wanted) max++;
  return max;
}

/** How a published volume presents a store path: its directory is the store's own inode in a bind farm, a new one in hardlinks. */
async function presentationOf(volume: VolumeRef, storePath: string): Promise<Presentation> {
  const [shown, original] = await Promise.all([lstat(join(volume.targetPath, 'store', basename(storePath)), { bigint: true }), lstat(storePath, { bigint: true })]);
  return shown.ino === original.ino && shown.dev === original.dev ? 'bind-farm' : 'hardlink';
}

async function presentationCounts(plugin: PluginProcess): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const match of (await plugin.scrapeMetrics()).matchAll(/^nixmount_view_presentations_total\{([^}]*)\} (\d+)/gm)) {
    const labels = Object.fromEntries([...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    counts[`${labels.presentation}/${labels.reason}`] = Number(match[2]);
  }
  return counts;
}

async function pairs(volumes: CsiVolumes, closure: Closure, scratch: string, bindSource: string, count: number, label: string) {
  const out = { publish: [] as number[], unpublish: [] as number[], bind: [] as number[], unbind: [] as number[], presentation: 'hardlink' as Presentation };
  for (let i = 0; i < count; i++) {
    out.bind.push(await bareBind(bindSource, join(scratch, `${label}-bind-${i}`), out.unbind));
    const volume = await volumes.newVolume(label);
    out.publish.push(await volumes.publish(volume, [closure.root]));
    if (i === 0) out.presentation = await presentationOf(volume, closure.paths[0]!);
    out.unpublish.push(await volumes.unpublish(volume));
  }
  return out;
}

/**
 * `total` read-only volumes of one closure on a node whose mount budget fits only
 * `farms` of them as bind farms (written into the plugin's --mount-max-file just
 * before): warm pairs with one volume, the fill, warm pairs with all of them, then
 * every volume unpublished. A budget reading is reused for a second, so the fill
 * waits that long after each volume that got a farm: each decision then sees the
 * mounts the one before added, and the count of farms is the budget's, not the
 * publish rate's.
 */
export async function budgetScenario(plugin: PluginProcess, maxFile: string, targetsDir: string, scratch: string, closure: Closure, total: number, farms: number, samples: number): Promise<BudgetResult> {
  const volumes = new CsiVolumes(plugin, targetsDir);
  const mountsBefore = await mountCount();
  const mountMax = mountMaxFitting(closure.paths.length, farms, mountsBefore);
  await writeFile(maxFile, `${mountMax}\n`);
  await new Promise((resolve) => setTimeout(resolve, 1100)); // the plugin's last reading expires
  const bindSource = join(scratch, 'budget-bind-source');
  await mkdir(bindSource, { recursive: true });
  const published: VolumeRef[] = [];
  const result: Partial<BudgetResult> = { volumes: total, paths: closure.paths.length, mountMax, mountsBefore, expectedFarms: farms };
  try {
    const first = await volumes.newVolume('budget');
    await volumes.publish(first, [closure.root]);
    published.push(first);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    result.single = await pairs(volumes, closure, scratch, bindSource, samples, 'budget-single');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const countedBefore = await presentationCounts(plugin);
    let paced = 0;
    const fillStart = process.hrtime.bigint();
    for (let i = 1; i < total; i++) {
      const volume = await volumes.newVolume('budget');
      await volumes.publish(volume, [closure.root]);
      published.push(volume);
      if ((await presentationOf(volume, closure.paths[0]!)) === 'bind-farm') {
        await new Promise((resolve) => setTimeout(resolve, 1050));
        paced += 1050;
      }
    }
    result.fillMs = Number(process.hrtime.bigint() - fillStart) / 1e6 - paced;
    const countedAfter = await presentationCounts(plugin);
    result.counted = Object.fromEntries(Object.entries(countedAfter).map(([key, n]) => [key, n - (countedBefore[key] ?? 0)]).filter(([, n]) => (n as number) > 0));
    let farmVolumes = 0;
    for (const volume of published) if ((await presentationOf(volume, closure.paths[0]!)) === 'bind-farm') farmVolumes++;
    result.farms = farmVolumes;
    result.hardlinks = published.length - farmVolumes;
    result.mountsLoaded = await mountCount();
    (globalThis as { gc?: () => void }).gc?.();
    result.loaded = await pairs(volumes, closure, scratch, bindSource, samples, 'budget-loaded');
  } finally {
    const drainStart = process.hrtime.bigint();
    const failures: string[] = [];
    for (const volume of published.reverse()) await volumes.unpublish(volume).catch((error: unknown) => failures.push(String(error)));
    result.drainMs = Number(process.hrtime.bigint() - drainStart) / 1e6;
    if (failures.length > 0) throw new Error(`${failures.length} unpublishes failed, first: ${failures[0]}`);
  }
  return result as BudgetResult;
}
