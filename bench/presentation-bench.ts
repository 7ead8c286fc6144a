import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BenchSpace } from './bench-space.js';
import { buildSizedClosure, type Closure } from './closures.js';
import { CsiVolumes } from './csi-volumes.js';
import { describeMachine } from './machine.js';
import { presentationPictures } from './pictures.js';
import { PluginProcess } from './plugin-process.js';
import { budgetRows, presentationRows, presentationTargets } from './presentation-report.js';
import { budgetScenario, presentationPoint, type BudgetResult, type PresentationPlugin, type PresentationPoint } from './presentation-scenarios.js';
import { measurementTable, targetTable } from './report.js';

const USAGE = `usage: node --expose-gc dist/bench/presentation-bench.js [--full] [--runs N] [--warm N] [--volumes N] [--farms N] [--no-budget] [--out DIR]
  Cold and warm read-only publish by view presentation (a plugin with --view-mode hardlink beside one with the default auto),
  next to cp -al and a bare bind, then N volumes of a 200-path closure on a mount budget that fits --farms of them as bind farms.
  --full      adds the 100k-file closure over 100 store paths, and 1,000 volumes (default 100)`;

function options() {
  const { values } = parseArgs({
    options: {
      full: { type: 'boolean', default: false },
      runs: { type: 'string', default: '5' },
      warm: { type: 'string', default: '30' },
      volumes: { type: 'string' },
      farms: { type: 'string', default: '10' },
      'no-budget': { type: 'boolean', default: false },
      out: { type: 'string', default: fileURLToPath(new URL('../../bench/out/', import.meta.url)) },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = (text: string | undefined, name: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: "${text}" is not a positive integer`);
    return n;
  };
  const full = values.full ?? false;
  return {
    full,
    runs: count(values.runs, 'runs'),
    warm: count(values.warm, 'warm'),
    volumes: count(values.volumes ?? (full ? '1000' : '100'), 'volumes'),
    farms: count(values.farms, 'farms'),
    budget: !values['no-budget'],
    out: values.out!,
    sizes: full ? [[1_000, 5], [100_000, 100]] : [[1_000, 5]],
  };
}

const step = (text: string) => console.error(`bench: ${text}`);

/** Both presentations' plugins, each its own process (metrics on, so the budget's fallbacks can be read). */
export async function startPresentationPlugins(space: BenchSpace): Promise<Record<'hardlink' | 'bind-farm', PresentationPlugin>> {
  const start = async (name: string, args: string[]): Promise<PresentationPlugin> => {
    const plugin = await PluginProcess.start(space.path(name), [], ['--metrics-address', '127.0.0.1:0', ...args]);
    space.onClose(() => plugin.stop());
    return { plugin, volumes: new CsiVolumes(plugin, space.path(`${name}-targets`)) };
  };
  return { hardlink: await start('plugin-hardlink', ['--view-mode', 'hardlink']), 'bind-farm': await start('plugin-auto', []) };
}

async function main(): Promise<void> {
  const opts = options();
  const machine = await describeMachine();
  step('building the closures (cached by Nix after the first run)');
  const sized: Closure[] = [];
  for (const [files, paths] of opts.sizes) sized.push(await buildSizedClosure(files!, paths!));
  const wide = await buildSizedClosure(1_000, 200);
  const space = await BenchSpace.create();
  try {
    const by = await startPresentationPlugins(space);
    const points: PresentationPoint[] = [];
    for (const closure of sized) {
      step(`presentations: ${closure.files} files in ${closure.paths.length} paths, ${opts.runs} cold and ${opts.warm} warm each`);
      points.push(await presentationPoint(by, closure, space.path('scratch'), opts.runs, opts.warm));
    }
    for (const { plugin } of Object.values(by)) await plugin.stop();
    let budget: BudgetResult | undefined;
    if (opts.budget) {
      step(`budget: ${opts.volumes} volumes of ${wide.paths.length} paths, a budget fitting ${opts.farms} bind farms`);
      const maxFile = space.path('mount-max');
      await writeFile(maxFile, '100000\n');
      const plugin = await PluginProcess.start(space.path('plugin-budget'), [], ['--metrics-address', '127.0.0.1:0', '--mount-max-file', maxFile]);
      space.onClose(() => plugin.stop());
      budget = await budgetScenario(plugin, maxFile, space.path('budget-targets'), space.path('scratch'), wide, opts.volumes, opts.farms, 30);
      await plugin.stop();
    }
    const targets = presentationTargets(points, budget);
    const verdicts = targetTable(targets);
    const text = [
      `nixmount bench, view presentations — ${machine}`,
      '',
      measurementTable([...presentationRows(points), ...(budget ? budgetRows(budget) : [])]),
      '',
      verdicts.text,
      '',
      `${targets.length - verdicts.missed}/${targets.length} goals met; ${verdicts.beyondNoise} missed by more than this run's noise`,
    ].join('\n');
    console.log(`\n${text}`);
    await mkdir(opts.out, { recursive: true });
    const suffix = opts.full ? '-full' : '';
    await writeFile(join(opts.out, `presentations${suffix}.md`), `${text}\n`);
    await writeFile(join(opts.out, `presentations${suffix}.json`), `${JSON.stringify({ machine, opts, points, budget }, null, 1)}\n`);
    await presentationPictures(opts.out, suffix, points, budget);
  } finally {
    await space.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
