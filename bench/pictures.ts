import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Closure } from './closures.js';
import type { BaselineVolume } from './nix-csi-baseline.js';
import type { BudgetResult, PresentationPoint } from './presentation-scenarios.js';
import type { ScaleResult, SizePoint } from './scale-scenarios.js';
import { median, percentile } from './stats.js';
import { barChart, lineChart, type BarGroup } from './svg.js';

export interface PictureData {
  cold: { cold: number[]; copy: number[] };
  warm: { warm: number[]; bind: number[]; unpublish: number[]; unbind: number[] };
  big: Closure;
  baseline: BaselineVolume[];
  sizes: SizePoint[];
  scale: ScaleResult;
  startMs: number;
}

/** The run's pictures, each nixmount next to its references on the same axes. */
export async function writePictures(dir: string, suffix: string, d: PictureData): Promise<void> {
  const nixCsi = d.baseline.map((b) => b.publishMs);
  const pictures: Record<string, string> = {
    'size-curve': lineChart({
      title: 'Publish time against closure size (medians)',
      xLabel: 'files in the closure',
      yLabel: 'milliseconds (log)',
      series: [
        { name: 'nixmount cold', points: d.sizes.map((p) => [p.closure.files, median(p.cold)]) },
        { name: 'cp -al', points: d.sizes.map((p) => [p.closure.files, median(p.copy)]) },
        { name: 'nix-csi replay', points: d.sizes.map((p) => [p.closure.files, median(p.nixCsi)]) },
        { name: 'nixmount warm', points: d.sizes.map((p) => [p.closure.files, median(p.warm)]) },
        { name: 'bare mount --bind', points: d.sizes.map((p) => [p.closure.files, median(p.bind)]), dashed: true },
      ],
    }),
    cold: barChart({
      title: 'Cold publish (no view yet) against its references, medians',
      yLabel: 'milliseconds (log)',
      groups: [
        { label: `realistic ${Math.round(d.big.files / 1000)}k files`, bars: [
          { name: 'nixmount cold', value: median(d.cold.cold) },
          { name: 'cp -al', value: median(d.cold.copy) },
          { name: 'nix-csi replay', value: median(nixCsi) },
        ] },
        ...d.sizes.map((p) => ({ label: `${Math.round(p.closure.files / 1000)}k files, ${p.closure.paths.length} paths`, bars: [
          { name: 'nixmount cold', value: median(p.cold) },
          { name: 'cp -al', value: median(p.copy) },
          { name: 'nix-csi replay', value: median(p.nixCsi) },
        ] })),
      ],
    }),
    warm: barChart({
      title: 'Warm publish (view exists) against a bare bind mount',
      yLabel: 'milliseconds (log)',
      groups: [50, 95, 99].map((p) => ({ label: `p${p}`, bars: [
        { name: 'nixmount warm publish', value: percentile(d.warm.warm, p) },
        { name: 'bare mount --bind', value: percentile(d.warm.bind, p) },
        { name: 'nixmount unpublish', value: percentile(d.warm.unpublish, p) },
        { name: 'bare umount', value: percentile(d.warm.unbind, p) },
        { name: 'nix-csi replay', value: percentile(nixCsi, p) },
      ] })),
      limits: [{ name: 'goal: warm p50 ≤ 5 ms', value: 5 }],
    }),
    scale: barChart({
      title: `One volume vs ${d.scale.volumes} volumes over ${d.scale.views} views (medians)`,
      yLabel: 'milliseconds (log)',
      groups: [
        { label: 'publish', bars: [
          { name: 'nixmount, 1 volume', value: median(d.scale.single.publish) },
          { name: `nixmount, ${d.scale.volumes} volumes`, value: median(d.scale.loaded.publish) },
          { name: 'bare bind, 1 volume', value: median(d.scale.single.bind) },
          { name: `bare bind, ${d.scale.volumes} volumes`, value: median(d.scale.loaded.bind) },
        ] },
        { label: 'unpublish', bars: [
          { name: 'nixmount, 1 volume', value: median(d.scale.single.unpublish) },
          { name: `nixmount, ${d.scale.volumes} volumes`, value: median(d.scale.loaded.unpublish) },
          { name: 'bare bind, 1 volume', value: median(d.scale.single.unbind) },
          { name: `bare bind, ${d.scale.volumes} volumes`, value: median(d.scale.loaded.unbind) },
        ] },
        { label: `start to ready (0 / ${d.scale.volumes} records)`, bars: [
          { name: 'nixmount, 1 volume', value: d.startMs },
          { name: `nixmount, ${d.scale.volumes} volumes`, value: d.scale.restartReadyMs },
        ] },
      ],
      limits: [{ name: 'goal: ready ≤ 2 s', value: 2000 }],
    }),
  };
  for (const [name, svg] of Object.entries(pictures)) await writeFile(join(dir, `${name}${suffix}.svg`), svg);
}

/**
 * The view presentations: cold and warm read-only publish with hardlink views (before)
 * and bind farms (the default), next to `cp -al` and a bare bind, the floors of each;
 * and, when measured, publish with one volume against many on a small mount budget.
 */
export async function presentationPictures(dir: string, suffix: string, points: readonly PresentationPoint[], budget?: BudgetResult): Promise<void> {
  const groups: BarGroup[] = points.flatMap((p): BarGroup[] => {
    const name = `${p.closure.files >= 1000 ? `${Math.round(p.closure.files / 1000)}k` : p.closure.files} files, ${p.closure.paths} paths`;
    return [
      { label: `cold, ${name}`, bars: [
        { name: 'hardlink view', value: median(p.cold.hardlink) },
        { name: 'bind farm', value: median(p.cold['bind-farm']) },
        { name: 'cp -al', value: median(p.copy) },
      ] },
      { label: `warm, ${name}`, bars: [
        { name: 'hardlink view', value: median(p.warm.hardlink) },
        { name: 'bind farm', value: median(p.warm['bind-farm']) },
        { name: 'bare mount --bind', value: median(p.bind) },
      ] },
    ];
  });
  if (budget) {
    groups.push({ label: `publish, 1 → ${budget.volumes} volumes (${budget.farms} farms)`, bars: [
      { name: `1 volume (${budget.single.presentation})`, value: median(budget.single.publish) },
      { name: `${budget.volumes} volumes (${budget.loaded.presentation})`, value: median(budget.loaded.publish) },
      { name: 'bare mount --bind', value: median(budget.loaded.bind) },
    ] });
  }
  const svg = barChart({ title: 'Read-only publish by view presentation (medians)', yLabel: 'milliseconds (log)', groups, limits: [{ name: 'goal: warm p50 ≤ 5 ms', value: 5 }] });
  await writeFile(join(dir, `presentations${suffix}.svg`), svg);
}
