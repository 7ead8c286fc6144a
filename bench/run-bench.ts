import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BenchSpace } from './bench-space.js';
import { run } from './commands.js';
import { buildBigClosure, buildScaleRoots, buildSizedClosure, buildSmallClosures, type Closure } from './closures.js';
import { CsiVolumes } from './csi-volumes.js';
import { fingerprintTable, measureFingerprint, type FingerprintResult } from './host-volume-fingerprint.js';
import { describeMachine } from './machine.js';
import { nixCsiVolume, type BaselineVolume } from './nix-csi-baseline.js';
import { coldVsCopy, concurrentPublishes, warmVsBind, type Scene } from './nixmount-scenarios.js';
import { PluginProcess } from './plugin-process.js';
import { formatBytes, formatMs, measurementTable, percent, targetTable, times, type Row, type Target } from './report.js';
import { scaleScenario, sizePoint, type ScaleResult, type SizePoint } from './scale-scenarios.js';
import { median, percentile, relativeSpread } from './stats.js';
import { presentationPictures, writePictures } from './pictures.js';
import { startPresentationPlugins } from './presentation-bench.js';
import { budgetRows, presentationRows, presentationTargets } from './presentation-report.js';
import { budgetScenario, presentationPoint, type BudgetResult, type PresentationPoint } from './presentation-scenarios.js';
import { storeInodes } from './tree-usage.js';
import { measurePresentations, presentationTable, type PresentationResult } from './view-presentations.js';
import { closureFilesTable, measureClosureFiles, type ClosureFilesPoint } from './closure-files.js';

const USAGE = `usage: node --expose-gc dist/bench/run-bench.js [--full] [--check] [--runs N] [--warm N] [--burst N] [--closures N] [--out DIR] [--cpu-prof DIR]
  --full      adds the 100k-file closure (100 store paths) and 1,000 volumes over 100 views (default: 100 over 10),
              and 1,000 volumes (default 100) of a 200-path closure on a mount budget that fits 10 bind farms
  --check     exit 1 when a goal is missed by more than the noise this run measured
  --out       where the table, results.json, a /metrics sample and the pictures go (default bench/out of the repository, not committed)
  --runs      cold publishes, cp -al copies and nix-csi volumes each (default 7)
  --warm      warm publishes and bare binds each (default 100)
  --burst     publishes of one closure issued at once (default 50)
  --closures  distinct small closures published at once (default 10)
  --cpu-prof  write the plugin's V8 CPU profile into DIR`;

function options() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '7' },
      warm: { type: 'string', default: '100' },
      full: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      out: { type: 'string', default: fileURLToPath(new URL('../../bench/out/', import.meta.url)) },
      burst: { type: 'string', default: '50' },
      closures: { type: 'string', default: '10' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = (name: 'runs' | 'warm' | 'burst' | 'closures') => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: "${values[name]}" is not a positive integer`);
    return n;
  };
  return {
    runs: count('runs'),
    warm: count('warm'),
    burst: count('burst'),
    closures: count('closures'),
    cpuProf: values['cpu-prof'],
    full: values.full ?? false,
    check: values.check ?? false,
    out: values.out!,
    // The size curve: files over store paths; --full adds the large closure of the cold goal.
    sizes: values.full ? [[1_000, 5], [10_000, 5], [100_000, 100]] : [[1_000, 5], [10_000, 5]],
    scale: values.full ? { volumes: 1000, views: 100 } : { volumes: 100, views: 10 },
  };
}

const step = (text: string) => console.error(`bench: ${text}`);
const collectGarbage = () => (globalThis as { gc?: () => void }).gc?.();

async function main(): Promise<void> {
  const opts = options();
  const machine = await describeMachine();
  step('building the closures (cached by Nix after the first run)');
  const big = await buildBigClosure();
  const small = await buildSmallClosures(opts.closures);
  const sized: Closure[] = [];
  for (const [files, paths] of opts.sizes) sized.push(await buildSizedClosure(files!, paths!));
  const scaleRoots = await buildScaleRoots(opts.scale.views);
  const wide = await buildSizedClosure(1_000, 200); // the budget's closure: 200 paths (+ a root)
  const nodeStore = await storeInodes([...big.paths, ...sized.flatMap((c) => c.paths)]);

  const space = await BenchSpace.create();
  try {
    // With metrics on, as the shipped artefacts run it: the idle RSS goal holds with prom-client loaded.
    let plugin = await PluginProcess.start(space.path('plugin'), opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`] : [], ['--metrics-address', '127.0.0.1:0']);
    space.onClose(() => plugin.stop());
    const startMs = plugin.readyMs;
    await new Promise((resolve) => setTimeout(resolve, 1000)); // let start-up garbage settle
    const idle = await plugin.residentBytes();

    const targetsDir = space.path('targets');
    const scene: Scene = { plugin, volumes: new CsiVolumes(plugin, targetsDir), closure: big, scratch: space.path('scratch'), targetsDir, nodeStore };

    step(`cold publish vs cp -al, ${opts.runs} runs each`);
    const cold = await coldVsCopy(scene, opts.runs);
    step(`warm publish vs bare bind mount, ${opts.warm} each`);
    const warm = await warmVsBind(scene, opts.warm, 10);
    step(`${opts.burst} publishes of one closure at once`);
    const burst = await concurrentPublishes(scene, [big], opts.burst);
    step(`${small.length} distinct closures at once`);
    const many = await concurrentPublishes(scene, small, small.length);
    step(`view build by presentation: 200 paths of 200 files, hardlinks vs bind farm, ${opts.runs} runs each`);
    const presentations = await measurePresentations({ runs: opts.runs, dir: space.path('presentations') });
    step(`closure files: sbom.cdx.json vs closure.json for 100 to 10,000 paths, ${opts.runs} runs each`);
    const closureFiles = await measureClosureFiles({ runs: opts.runs });
    step('host volume fingerprint: the wrapper vs Node, 100 calls each, idle and with every core busy');
    const fingerprint = await measureFingerprint({ runs: 100 });
    collectGarbage();
    const after = await plugin.residentBytes();

    const sizes: SizePoint[] = [];
    for (const closure of sized) {
      const nixCsiRuns = closure.files >= 50_000 ? 1 : Math.min(3, opts.runs);
      step(`size curve: ${closure.files} files in ${closure.paths.length} paths, ${opts.runs} cold, ${Math.min(opts.warm, 30)} warm, ${nixCsiRuns} nix-csi`);
      sizes.push(await sizePoint(scene, closure, opts.runs, Math.min(opts.warm, 30), nixCsiRuns));
    }

    step(`nix-csi baseline replayed, ${opts.runs} volumes`);
    const baseline: BaselineVolume[] = [];
    for (let i = 0; i < opts.runs; i++) {
      baseline.push(await nixCsiVolume(big, space.path('nix-csi', `vol-${i}`), space.path('nix-csi', `target-${i}`), nodeStore));
    }

    // What an operator's Prometheus would have scraped after these runs.
    await mkdir(opts.out, { recursive: true });
    await writeFile(join(opts.out, 'metrics-sample.txt'), await plugin.scrapeMetrics());
    await plugin.stop();

    // The nix-csi replays before wrote gigabytes (a full copy of the closure per volume):
    // flushed now, or their writeback lands in the middle of the scale scenario's samples.
    await run('sync', []);
    // Before (--view-mode hardlink) and after (the default auto: bind farms) on the size
    // curve's closures, each presentation its own plugin; then the mount budget.
    const by = await startPresentationPlugins(space);
    const presentationPoints: PresentationPoint[] = [];
    for (const closure of sized) {
      step(`presentations: ${closure.files} files in ${closure.paths.length} paths, hardlinks vs bind farm, ${opts.runs} cold, ${Math.min(opts.warm, 30)} warm`);
      presentationPoints.push(await presentationPoint(by, closure, space.path('scratch'), opts.runs, Math.min(opts.warm, 30)));
    }
    for (const { plugin: own } of Object.values(by)) await own.stop();
    step(`budget: ${opts.scale.volumes} volumes of ${wide.paths.length} paths on a mount budget fitting 10 bind farms`);
    const maxFile = space.path('mount-max');
    await writeFile(maxFile, '100000\n');
    plugin = await PluginProcess.start(space.path('plugin-budget'), [], ['--metrics-address', '127.0.0.1:0', '--mount-max-file', maxFile]);
    const budget = await budgetScenario(plugin, maxFile, space.path('budget-targets'), space.path('scratch'), wide, opts.scale.volumes, 10, 30);
    await plugin.stop();
    // A plugin of its own, so its RSS is that of the volumes it holds, not of the scenarios before.
    step(`scale: ${opts.scale.volumes} volumes over ${opts.scale.views} views, a restart, all unpublished`);
    plugin = await PluginProcess.start(space.path('plugin-scale'));
    const scale = await scaleScenario(plugin, space.path('scale-targets'), space.path('scratch'), scaleRoots, opts.scale.volumes, 30);
    plugin = scale.plugin;
    await plugin.stop();

    const missed = await report({ machine, big, small, opts, cold, warm, burst, many, baseline, idle, after, sizes, scale, startMs, presentations, presentationPoints, budget, closureFiles, fingerprint });
    if (opts.check && missed > 0) process.exitCode = 1;
  } finally {
    await space.close();
  }
}

interface Results {
  machine: string;
  presentations: PresentationResult;
  closureFiles: ClosureFilesPoint[];
  presentationPoints: PresentationPoint[];
  budget: BudgetResult;
  fingerprint: FingerprintResult;
  big: Closure;
  small: Closure[];
  opts: ReturnType<typeof options>;
  cold: Awaited<ReturnType<typeof coldVsCopy>>;
  warm: Awaited<ReturnType<typeof warmVsBind>>;
  burst: Awaited<ReturnType<typeof concurrentPublishes>>;
  many: Awaited<ReturnType<typeof concurrentPublishes>>;
  baseline: BaselineVolume[];
  idle: { rss: number; peak: number };
  after: { rss: number; peak: number };
  sizes: SizePoint[];
  scale: ScaleResult;
  /** Spawn to Probe ready on an empty state dir. */
  startMs: number;
}

async function report(r: Results): Promise<number> {
  const coldP50 = median(r.cold.cold);
  const copyP50 = median(r.cold.copy);
  const warmP50 = median(r.warm.warm);
  const warmP95 = percentile(r.warm.warm, 95);
  const warmP99 = percentile(r.warm.warm, 99);
  const bindP50 = median(r.warm.bind);
  const bindP95 = percentile(r.warm.bind, 95);
  const bindP99 = percentile(r.warm.bind, 99);
  const nixCsiP50 = median(r.baseline.map((b) => b.publishMs));
  const nixCsiDisk = median(r.baseline.map((b) => b.diskBytes));
  const nixCsiShare = r.baseline[0] ? r.baseline[0].sharedFiles / r.baseline[0].files : NaN;
  const share = r.cold.sharing.shared / r.cold.sharing.files;
  const sc = r.scale;
  const scalePub = median(sc.loaded.publish) / median(sc.single.publish);
  const scaleUnpub = median(sc.loaded.unpublish) / median(sc.single.unpublish);
  const scaleBind = median(sc.loaded.bind) / median(sc.single.bind);

  const rows: Row[] = [
    { measurement: `cold publish p50 (${r.opts.runs} runs)`, nixmount: formatMs(coldP50), reference: `cp -al ${formatMs(copyP50)}`, ratio: times(coldP50 / copyP50) },
    { measurement: `warm publish p50 (${r.opts.warm} runs)`, nixmount: formatMs(warmP50), reference: `bare mount --bind ${formatMs(bindP50)}`, ratio: times(warmP50 / bindP50) },
    { measurement: 'warm publish p95', nixmount: formatMs(warmP95), reference: `bare mount --bind ${formatMs(bindP95)}`, ratio: times(warmP95 / bindP95) },
    { measurement: 'warm publish p99', nixmount: formatMs(warmP99), reference: `bare mount --bind ${formatMs(bindP99)}`, ratio: times(warmP99 / bindP99) },
    { measurement: 'time per volume (warm p50 vs nix-csi p50)', nixmount: formatMs(warmP50), reference: `nix-csi ${formatMs(nixCsiP50)}`, ratio: `${times(nixCsiP50 / warmP50)} faster` },
    { measurement: 'time per volume (cold p50 vs nix-csi p50)', nixmount: formatMs(coldP50), reference: `nix-csi ${formatMs(nixCsiP50)}`, ratio: `${times(nixCsiP50 / coldP50)} faster` },
    { measurement: 'disk per additional read-only volume', nixmount: formatBytes(r.warm.extraDiskPerVolume), reference: `nix-csi ${formatBytes(nixCsiDisk)}`, ratio: times(nixCsiDisk / r.warm.extraDiskPerVolume) + ' less' },
    { measurement: 'files sharing the node store inode', nixmount: percent(share), reference: `nix-csi ${percent(nixCsiShare)}`, ratio: '' },
    { measurement: 'unpublish p50', nixmount: formatMs(median(r.warm.unpublish)), reference: `bare umount ${formatMs(median(r.warm.unbind))}, nix-csi ${formatMs(median(r.baseline.map((b) => b.unpublishMs)))}`, ratio: times(median(r.warm.unpublish) / median(r.warm.unbind)) },
    { measurement: `${r.opts.burst} publishes of one closure at once`, nixmount: `${formatMs(r.burst.wallMs)} wall`, reference: `views built ${r.burst.viewsBuilt}, mounted ${r.burst.mounted}/${r.opts.burst}`, ratio: '' },
    { measurement: `${r.small.length} distinct closures at once`, nixmount: `${formatMs(r.many.wallMs)} wall`, reference: `views built ${r.many.viewsBuilt}, mounted ${r.many.mounted}/${r.small.length}`, ratio: '' },
    { measurement: 'plugin RSS idle / after the runs (peak), metrics on', nixmount: `${formatBytes(r.idle.rss)} / ${formatBytes(r.after.rss)} (${formatBytes(r.after.peak)})`, reference: '', ratio: '' },
    ...r.sizes.flatMap((p): Row[] => [
      { measurement: `size ${p.closure.files} files / ${p.closure.paths.length} paths: cold p50`, nixmount: formatMs(median(p.cold)), reference: `cp -al ${formatMs(median(p.copy))}, nix-csi ${formatMs(median(p.nixCsi))}`, ratio: times(median(p.cold) / median(p.copy)) },
      { measurement: `size ${p.closure.files} files: warm p50`, nixmount: formatMs(median(p.warm)), reference: `bare mount --bind ${formatMs(median(p.bind))}`, ratio: times(median(p.warm) / median(p.bind)) },
    ]),
    { measurement: `scale: publish p50, 1 → ${sc.volumes} volumes`, nixmount: `${formatMs(median(sc.single.publish))} → ${formatMs(median(sc.loaded.publish))}`, reference: `bare bind ${formatMs(median(sc.single.bind))} → ${formatMs(median(sc.loaded.bind))} (${times(scaleBind)})`, ratio: times(scalePub) },
    { measurement: `scale: unpublish p50, 1 → ${sc.volumes} volumes`, nixmount: `${formatMs(median(sc.single.unpublish))} → ${formatMs(median(sc.loaded.unpublish))}`, reference: `bare umount ${formatMs(median(sc.single.unbind))} → ${formatMs(median(sc.loaded.unbind))} (${times(median(sc.loaded.unbind) / median(sc.single.unbind))})`, ratio: times(scaleUnpub) },
    { measurement: `scale: ${sc.volumes - 1} publishes over ${sc.views} views`, nixmount: `${formatMs(sc.fillMs)} wall`, reference: `${formatMs(sc.fillMs / Math.max(1, sc.volumes - 1))} per volume`, ratio: '' },
    { measurement: `scale: RSS with ${sc.volumes} volumes / after restart (peak)`, nixmount: `${formatBytes(sc.rssLoaded.rss)} / ${formatBytes(sc.rssAfterRestart.rss)} (${formatBytes(Math.max(sc.rssLoaded.peak, sc.rssAfterRestart.peak))})`, reference: '', ratio: '' },
    { measurement: `scale: restart with ${sc.volumes} records to Probe ready`, nixmount: formatMs(sc.restartReadyMs), reference: `empty state ${formatMs(r.startMs)}`, ratio: '' },
    ...presentationRows(r.presentationPoints),
    ...budgetRows(r.budget),
  ];
  const large = r.sizes.find((p) => p.closure.paths.length >= 100 && p.closure.files >= 100_000);
  const targets: Target[] = [
    { name: 'cold p50 vs cp -al (realistic closure)', value: coldP50 / copyP50, limit: 1.3, kind: 'max', show: times, noise: relativeSpread(r.cold.cold, r.cold.copy) },
    // The cold goals are for closures of ≥ 10k files; the 1k point only draws the curve.
    ...r.sizes.filter((p) => p.closure.files >= 10_000).map((p): Target => ({
      name: `cold p50 vs cp -al (${p.closure.files} files, ${p.closure.paths.length} paths)`,
      value: median(p.cold) / median(p.copy),
      limit: p === large ? 1.0 : 1.3,
      kind: 'max',
      show: times,
      noise: relativeSpread(p.cold, p.copy),
    })),
    { name: 'warm p50', value: warmP50, limit: 5, kind: 'max', show: formatMs, noise: relativeSpread(r.warm.warm) },
    { name: 'warm p50 vs bare bind mount', value: warmP50 / bindP50, limit: 2, kind: 'max', show: times, noise: relativeSpread(r.warm.warm, r.warm.bind) },
    { name: 'warm p99 vs warm p50', value: warmP99 / warmP50, limit: 3, kind: 'max', show: times, noise: relativeSpread(r.warm.warm, r.warm.bind) },
    { name: `scale: publish p50 with ${sc.volumes} volumes vs 1`, value: scalePub, limit: 1.5, kind: 'max', show: times, noise: relativeSpread(sc.single.publish, sc.loaded.publish) },
    { name: `scale: unpublish p50 with ${sc.volumes} volumes vs 1`, value: scaleUnpub, limit: 1.5, kind: 'max', show: times, noise: relativeSpread(sc.single.unpublish, sc.loaded.unpublish) },
    { name: `scale: plugin RSS with ${sc.volumes} volumes (peak)`, value: Math.max(sc.rssLoaded.peak, sc.rssAfterRestart.peak), limit: 120e6, kind: 'max', show: formatBytes, noise: 0 }, // the 120 MB
    { name: `scale: restart with ${sc.volumes} records ready`, value: sc.restartReadyMs, limit: 2000, kind: 'max', show: formatMs, noise: 0 },
    { name: 'warm p50 faster than nix-csi per volume', value: nixCsiP50 / warmP50, limit: 100, kind: 'min', show: times, noise: relativeSpread(r.warm.warm, r.baseline.map((b) => b.publishMs)) },
    { name: 'disk per additional read-only volume', value: r.warm.extraDiskPerVolume, limit: 1024 * 1024, kind: 'max', show: formatBytes },
    { name: 'files sharing the node store inode', value: share * 100, limit: 100, kind: 'exact', show: (v) => `${v.toFixed(1)}%` },
    { name: `views built by ${r.opts.burst} concurrent publishes`, value: r.burst.viewsBuilt, limit: 1, kind: 'exact', show: String },
    { name: 'plugin RSS idle, metrics on', value: r.idle.rss, limit: 80 * 1024 * 1024, kind: 'max', show: formatBytes },
    // The size curve's 10k point has its hardlink goal above; bind farms are held to theirs at 1k and ≥ 100k files.
    ...presentationTargets(r.presentationPoints.filter((p) => p.closure.files < 10_000 || p.closure.files >= 100_000), r.budget),
    // Nomad kills fingerprint at 1 s and silently drops the plugin: a tenth of that, on a node with every core busy.
    { name: 'host volume fingerprint p99, every core busy', value: percentile(r.fingerprint.loaded.wrapper, 99), limit: 100, kind: 'max', show: formatMs, noise: relativeSpread(r.fingerprint.loaded.wrapper) },
  ];
  const verdicts = targetTable(targets);
  const smallFiles = r.small.reduce((sum, c) => sum + c.files, 0) / Math.max(1, r.small.length);
  const text = [
    `nixmount bench — ${r.machine}`,
    `closure: ${r.big.paths.length} store paths, ${r.big.files} files, ${formatBytes(r.big.bytes)}; ${r.small.length} small closures of ${r.small[0]?.paths.length ?? 0} paths, ~${Math.round(smallFiles)} files each; ${r.opts.full ? 'full run' : 'default run (--full adds 100k files and 1,000 volumes)'}`,
    '',
    measurementTable(rows),
    '',
    verdicts.text,
    '',
    `${targets.length - verdicts.missed}/${targets.length} goals met; ${verdicts.beyondNoise} missed by more than this run's noise`,
    '',
    presentationTable(r.presentations),
    '',
    closureFilesTable(r.closureFiles),
    fingerprintTable(r.fingerprint),
  ].join('\n');
  console.log(`\n${text}`);
  if (r.burst.mounted !== r.opts.burst || r.many.mounted !== r.small.length || r.many.viewsBuilt !== r.small.length) {
    console.log('WARNING: not every concurrent publish ended mounted with its own view');
  }
  await mkdir(r.opts.out, { recursive: true });
  const suffix = r.opts.full ? '-full' : '';
  await writeFile(join(r.opts.out, `results${suffix}.md`), `${text}\n`);
  await writeFile(join(r.opts.out, `results${suffix}.json`), `${JSON.stringify({ machine: r.machine, opts: r.opts, cold: r.cold, warm: r.warm, burst: r.burst, many: r.many, baseline: r.baseline, idle: r.idle, after: r.after, startMs: r.startMs, presentations: r.presentations, presentationPoints: r.presentationPoints, budget: r.budget, closureFiles: r.closureFiles, fingerprint: r.fingerprint, sizes: r.sizes.map((p) => ({ ...p, closure: { files: p.closure.files, paths: p.closure.paths.length, bytes: p.closure.bytes } })), scale: { ...sc, plugin: undefined } }, null, 1)}\n`);
  await writePictures(r.opts.out, suffix, { cold: r.cold, warm: r.warm, big: r.big, baseline: r.baseline, sizes: r.sizes, scale: sc, startMs: r.startMs });
  await presentationPictures(r.opts.out, suffix, r.presentationPoints, r.budget);
  return r.opts.check ? verdicts.beyondNoise : verdicts.missed;
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
});
