import type { BudgetResult, PresentationPoint } from './presentation-scenarios.js';
import { formatMs, measurementTable, percent, times, type Row, type Target } from './report.js';
import { median, relativeSpread } from './stats.js';

const label = (p: PresentationPoint) => `${p.closure.files} files / ${p.closure.paths} paths`;

/** Before (hardlink views) and after (the default auto, a bind farm) for each closure, next to the floors. */
export function presentationRows(points: readonly PresentationPoint[]): Row[] {
  return points.flatMap((p): Row[] => [
    { measurement: `${label(p)}: cold p50, hardlinks (before)`, nixmount: formatMs(median(p.cold.hardlink)), reference: `cp -al ${formatMs(median(p.copy))}`, ratio: times(median(p.cold.hardlink) / median(p.copy)) },
    { measurement: `${label(p)}: cold p50, bind farm (auto)`, nixmount: formatMs(median(p.cold['bind-farm'])), reference: `cp -al ${formatMs(median(p.copy))}`, ratio: times(median(p.cold['bind-farm']) / median(p.copy)) },
    { measurement: `${label(p)}: warm p50, hardlinks / bind farm`, nixmount: `${formatMs(median(p.warm.hardlink))} / ${formatMs(median(p.warm['bind-farm']))}`, reference: `bare mount --bind ${formatMs(median(p.bind))}`, ratio: `${times(median(p.warm.hardlink) / median(p.bind))} / ${times(median(p.warm['bind-farm']) / median(p.bind))}` },
    { measurement: `${label(p)}: unpublish p50, hardlinks / bind farm`, nixmount: `${formatMs(median(p.unpublish.hardlink))} / ${formatMs(median(p.unpublish['bind-farm']))}`, reference: `bare umount ${formatMs(median(p.unbind))}`, ratio: `${times(median(p.unpublish.hardlink) / median(p.unbind))} / ${times(median(p.unpublish['bind-farm']) / median(p.unbind))}` },
    { measurement: `${label(p)}: files sharing the store inode (bind farm)`, nixmount: `${percent(p.sharing.shared / p.sharing.files)}`, reference: `${p.sharing.shared} of ${p.sharing.files} stat'ed`, ratio: '' },
  ]);
}

export function budgetRows(b: BudgetResult): Row[] {
  const counted = Object.entries(b.counted).map(([key, n]) => `${key} ${n}`).join(', ');
  return [
    { measurement: `budget: ${b.volumes} volumes of ${b.paths} paths, fs.mount-max ${b.mountMax}`, nixmount: `${b.farms} bind farm, ${b.hardlinks} hardlinks`, reference: `fits ${b.expectedFarms}; counted over the fill: ${counted}`, ratio: '' },
    { measurement: `budget: publish p50, 1 (${b.single.presentation}) → ${b.volumes} volumes (${b.loaded.presentation})`, nixmount: `${formatMs(median(b.single.publish))} → ${formatMs(median(b.loaded.publish))}`, reference: `bare bind ${formatMs(median(b.single.bind))} → ${formatMs(median(b.loaded.bind))}`, ratio: times(median(b.loaded.publish) / median(b.single.publish)) },
    { measurement: `budget: unpublish p50, 1 → ${b.volumes} volumes`, nixmount: `${formatMs(median(b.single.unpublish))} → ${formatMs(median(b.loaded.unpublish))}`, reference: `bare umount ${formatMs(median(b.single.unbind))} → ${formatMs(median(b.loaded.unbind))}`, ratio: times(median(b.loaded.unpublish) / median(b.single.unpublish)) },
    { measurement: `budget: ${b.volumes - 1} publishes / all unpublished`, nixmount: `${formatMs(b.fillMs)} / ${formatMs(b.drainMs)} wall`, reference: `mounts ${b.mountsBefore} → ${b.mountsLoaded}`, ratio: '' },
  ];
}

/** The presentation goals: the large closure's cold publish O(paths), the small one's near cp -al, warm, sharing, the budget. */
export function presentationTargets(points: readonly PresentationPoint[], budget?: BudgetResult): Target[] {
  const targets: Target[] = [];
  for (const p of points) {
    const large = p.closure.paths >= 100 && p.closure.files >= 100_000;
    targets.push({
      name: `bind farm cold p50 vs cp -al (${label(p)})`,
      value: median(p.cold['bind-farm']) / median(p.copy),
      limit: large ? 0.1 : 1.5,
      kind: 'max',
      show: times,
      noise: relativeSpread(p.cold['bind-farm'], p.copy),
    });
    targets.push({ name: `bind farm warm p50 (${label(p)})`, value: median(p.warm['bind-farm']), limit: 5, kind: 'max', show: formatMs, noise: relativeSpread(p.warm['bind-farm']) });
    targets.push({ name: `bind farm files sharing the store inode (${label(p)})`, value: (p.sharing.shared / p.sharing.files) * 100, limit: 100, kind: 'exact', show: (v) => `${v.toFixed(1)}%` });
    targets.push({ name: `views presented as chosen (${label(p)})`, value: Number(p.presented.hardlink && p.presented['bind-farm']), limit: 1, kind: 'exact', show: (v) => (v ? 'yes' : 'no') });
  }
  if (budget) {
    targets.push({ name: `budget: publish p50 with ${budget.volumes} volumes vs 1`, value: median(budget.loaded.publish) / median(budget.single.publish), limit: 1.5, kind: 'max', show: times, noise: relativeSpread(budget.single.publish, budget.loaded.publish) });
    targets.push({ name: 'budget: bind-farm volumes = what the budget fits', value: budget.farms, limit: budget.expectedFarms, kind: 'exact', show: String });
    targets.push({ name: 'budget: over-budget fallbacks counted = hardlink volumes', value: budget.counted['hardlink/over_budget'] ?? 0, limit: budget.hardlinks, kind: 'exact', show: String });
  }
  return targets;
}

export { measurementTable };
