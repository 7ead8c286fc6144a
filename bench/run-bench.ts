import { parseArgs } from 'node:util';
import { BenchSpace } from './bench-space.js';
import { buildBigClosure, buildSmallClosures, type Closure } from './closures.js';
import { CsiVolumes } from './csi-volumes.js';
import { describeMachine } from './machine.js';
import { nixCsiVolume, type BaselineVolume } from './nix-csi-baseline.js';
import { coldVsCopy, concurrentPublishes, warmVsBind, type Scene } from './nixmount-scenarios.js';
import { PluginProcess } from './plugin-process.js';
import { formatBytes, formatMs, measurementTable, percent, targetTable, times, type Row, type Target } from './report.js';
import { median, percentile } from './stats.js';
import { storeInodes } from './tree-usage.js';

const USAGE = `usage: node --expose-gc dist/bench/run-bench.js [--runs N] [--warm N] [--burst N] [--closures N] [--cpu-prof DIR]
  --runs      cold publishes, cp -al copies and nix-csi volumes each (default 7)
  --warm      warm publishes and bare binds each (default 60)
  --burst     publishes of one closure issued at once (default 50)
  --closures  distinct small closures published at once (default 10)
  --cpu-prof  write the plugin's V8 CPU profile into DIR`;

function options() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '7' },
      warm: { type: 'string', default: '60' },
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
  return { runs: count('runs'), warm: count('warm'), burst: count('burst'), closures: count('closures'), cpuProf: values['cpu-prof'] };
}

const step = (text: string) => console.error(`bench: ${text}`);
const collectGarbage = () => (globalThis as { gc?: () => void }).gc?.();

async function main(): Promise<void> {
  const opts = options();
  const machine = await describeMachine();
  step('building the closures (cached by Nix after the first run)');
  const big = await buildBigClosure();
  const small = await buildSmallClosures(opts.closures);
  const nodeStore = await storeInodes(big.paths);

  const space = await BenchSpace.create();
  try {
    const plugin = await PluginProcess.start(space.path('plugin'), opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`] : []);
    space.onClose(() => plugin.stop());
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
    collectGarbage();
    const after = await plugin.residentBytes();

    step(`nix-csi baseline replayed, ${opts.runs} volumes`);
    const baseline: BaselineVolume[] = [];
    for (let i = 0; i < opts.runs; i++) {
      baseline.push(await nixCsiVolume(big, space.path('nix-csi', `vol-${i}`), space.path('nix-csi', `target-${i}`), nodeStore));
    }
    await plugin.stop();

    report({ machine, big, small, opts, cold, warm, burst, many, baseline, idle, after });
  } finally {
    await space.close();
  }
}

interface Results {
  machine: string;
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
}

function report(r: Results): void {
  const coldP50 = median(r.cold.cold);
  const copyP50 = median(r.cold.copy);
  const warmP50 = median(r.warm.warm);
  const warmP95 = percentile(r.warm.warm, 95);
  const bindP50 = median(r.warm.bind);
  const bindP95 = percentile(r.warm.bind, 95);
  const nixCsiP50 = median(r.baseline.map((b) => b.publishMs));
  const nixCsiDisk = median(r.baseline.map((b) => b.diskBytes));
  const nixCsiShare = r.baseline[0] ? r.baseline[0].sharedFiles / r.baseline[0].files : NaN;
  const share = r.cold.sharing.shared / r.cold.sharing.files;

  const rows: Row[] = [
    { measurement: `cold publish p50 (${r.opts.runs} runs)`, nixmount: formatMs(coldP50), reference: `cp -al ${formatMs(copyP50)}`, ratio: times(coldP50 / copyP50) },
    { measurement: `warm publish p50 (${r.opts.warm} runs)`, nixmount: formatMs(warmP50), reference: `bare mount --bind ${formatMs(bindP50)}`, ratio: times(warmP50 / bindP50) },
    { measurement: 'warm publish p95', nixmount: formatMs(warmP95), reference: `bare mount --bind ${formatMs(bindP95)}`, ratio: times(warmP95 / bindP95) },
    { measurement: 'time per volume (warm p50 vs nix-csi p50)', nixmount: formatMs(warmP50), reference: `nix-csi ${formatMs(nixCsiP50)}`, ratio: `${times(nixCsiP50 / warmP50)} faster` },
    { measurement: 'time per volume (cold p50 vs nix-csi p50)', nixmount: formatMs(coldP50), reference: `nix-csi ${formatMs(nixCsiP50)}`, ratio: `${times(nixCsiP50 / coldP50)} faster` },
    { measurement: 'disk per additional read-only volume', nixmount: formatBytes(r.warm.extraDiskPerVolume), reference: `nix-csi ${formatBytes(nixCsiDisk)}`, ratio: times(nixCsiDisk / r.warm.extraDiskPerVolume) + ' less' },
    { measurement: 'files sharing the node store inode', nixmount: percent(share), reference: `nix-csi ${percent(nixCsiShare)}`, ratio: '' },
    { measurement: 'unpublish p50', nixmount: formatMs(median(r.warm.unpublish)), reference: `nix-csi ${formatMs(median(r.baseline.map((b) => b.unpublishMs)))}`, ratio: '' },
    { measurement: `${r.opts.burst} publishes of one closure at once`, nixmount: `${formatMs(r.burst.wallMs)} wall`, reference: `views built ${r.burst.viewsBuilt}, mounted ${r.burst.mounted}/${r.opts.burst}`, ratio: '' },
    { measurement: `${r.small.length} distinct closures at once`, nixmount: `${formatMs(r.many.wallMs)} wall`, reference: `views built ${r.many.viewsBuilt}, mounted ${r.many.mounted}/${r.small.length}`, ratio: '' },
    { measurement: 'plugin RSS idle / after the runs (peak)', nixmount: `${formatBytes(r.idle.rss)} / ${formatBytes(r.after.rss)} (${formatBytes(r.after.peak)})`, reference: '', ratio: '' },
  ];
  const targets: Target[] = [
    { name: 'warm p50 faster than nix-csi per volume', value: nixCsiP50 / warmP50, limit: 100, kind: 'min', show: times },
    { name: 'warm p50 vs bare bind mount', value: warmP50 / bindP50, limit: 3, kind: 'max', show: times },
    { name: 'cold p50 vs cp -al', value: coldP50 / copyP50, limit: 1.3, kind: 'max', show: times },
    { name: 'disk per additional read-only volume', value: r.warm.extraDiskPerVolume, limit: 1024 * 1024, kind: 'max', show: formatBytes },
    { name: 'files sharing the node store inode', value: share * 100, limit: 100, kind: 'exact', show: (v) => `${v.toFixed(1)}%` },
    { name: `views built by ${r.opts.burst} concurrent publishes`, value: r.burst.viewsBuilt, limit: 1, kind: 'exact', show: String },
    { name: 'plugin RSS idle', value: r.idle.rss, limit: 80 * 1024 * 1024, kind: 'max', show: formatBytes },
  ];
  const verdicts = targetTable(targets);
  const smallFiles = r.small.reduce((sum, c) => sum + c.files, 0) / Math.max(1, r.small.length);
  console.log(`\nnixmount bench — ${r.machine}`);
  console.log(`closure: ${r.big.paths.length} store paths, ${r.big.files} files, ${formatBytes(r.big.bytes)}; ${r.small.length} small closures of ${r.small[0]?.paths.length ?? 0} paths, ~${Math.round(smallFiles)} files each\n`);
  console.log(measurementTable(rows));
  console.log('');
  console.log(verdicts.text);
  console.log(`\n${targets.length - verdicts.missed}/${targets.length} targets met`);
  if (r.burst.mounted !== r.opts.burst || r.many.mounted !== r.small.length || r.many.viewsBuilt !== r.small.length) {
    console.log('WARNING: not every concurrent publish ended mounted with its own view');
  }
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
});
