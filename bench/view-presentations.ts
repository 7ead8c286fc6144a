import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ViewContents } from '../src/core/ports/view-store.js';
import type { Presentation } from '../src/core/view-presentation.js';
import { ExecaProcessRunner } from '../src/platform/execa-process-runner.js';
import { HardlinkViewStore } from '../src/platform/hardlink-view-store.js';
import { MountHelper } from '../src/platform/mount-helper.js';
import { createLogger } from '../src/platform/pino-logger.js';
import { formatMs, median, timed } from './stats.js';

/**
 * View build time by presentation, measured in one process on one synthetic store:
 * `paths` store paths of `filesPerPath` small files each, in a temp dir on the same
 * filesystem as the views (hardlinks need that). Only the presentation is timed (the
 * Nix database and GC roots are the same work for both and are stubbed here), each
 * run building a fresh view and then removing it, the two presentations alternating
 * so both see the same machine. Needs root (the farm's binds are real mounts).
 */
export interface PresentationResult {
  paths: number;
  files: number;
  runs: number;
  buildMs: Record<Presentation, number[]>;
  removeMs: Record<Presentation, number[]>;
}

export async function measurePresentations(options: { paths?: number; filesPerPath?: number; runs?: number; dir?: string } = {}): Promise<PresentationResult> {
  const paths = options.paths ?? 200;
  const filesPerPath = options.filesPerPath ?? 200;
  const runs = options.runs ?? 5;
  if (options.dir) await mkdir(options.dir, { recursive: true });
  const dir = await mkdtemp(join(options.dir ?? tmpdir(), 'nixmount-bench-views-'));
  const silent = createLogger({ level: 'silent' });
  const runner = new ExecaProcessRunner(silent);
  const helper = new MountHelper(runner, silent, { helper: 'auto' });
  try {
    const store = join(dir, 'store');
    await mkdir(store);
    const physical: string[] = [];
    for (let p = 0; p < paths; p++) {
      const path = join(store, `${String(p).padStart(32, '0')}-bench-path-${p}`);
      await mkdir(join(path, 'share'), { recursive: true });
      await Promise.all(Array.from({ length: filesPerPath }, (_, f) => writeFile(join(path, 'share', `file-${f}`), `path ${p} file ${f}\n`)));
      physical.push(path);
    }
    const views = new HardlinkViewStore({ driverName: 'bench', driverVersion: '0', nodeId: 'bench', stateDir: join(dir, 'state'), viewIdleMs: 0 }, runner, helper);
    const contents = (presentation: Presentation): ViewContents => ({
      presentation,
      roots: [`/nix/store/${physical[0]!.split('/').pop()}`],
      paths: physical.map((physicalPath) => ({ storePath: `/nix/store/${physicalPath.split('/').pop()}`, physicalPath })),
      register: async (root) => {
        await mkdir(join(root, 'nix/var/nix/db'), { recursive: true });
      },
    });
    const result: PresentationResult = { paths, files: paths * filesPerPath, runs, buildMs: { hardlink: [], 'bind-farm': [] }, removeMs: { hardlink: [], 'bind-farm': [] } };
    // One unmeasured round each first: the page cache and the helper warm up.
    for (let run = -1; run < runs; run++) {
      for (const presentation of ['hardlink', 'bind-farm'] as const) {
        const key = `${run + 1}${presentation === 'hardlink' ? 'a' : 'b'}`.padStart(32, '0');
        const built = await timed(() => views.materialize(key, contents(presentation)));
        const removed = await timed(() => views.remove(key));
        if (run < 0) continue;
        result.buildMs[presentation].push(built.ms);
        result.removeMs[presentation].push(removed.ms);
      }
    }
    return result;
  } finally {
    helper.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export function presentationTable(result: PresentationResult): string {
  const row = (presentation: Presentation) =>
    `| ${presentation} | ${formatMs(median(result.buildMs[presentation]))} | ${formatMs(median(result.removeMs[presentation]))} |`;
  const ratio = median(result.buildMs['bind-farm']) / median(result.buildMs.hardlink);
  return [
    `View build by presentation: ${result.paths} store paths, ${result.files} files, median of ${result.runs} runs each (same process, alternating)`,
    '',
    '| presentation | build | remove |',
    '|---|---|---|',
    row('hardlink'),
    row('bind-farm'),
    '',
    `bind farm / hardlinks (build): ${ratio.toFixed(3)}×`,
  ].join('\n');
}

// `node dist/bench/view-presentations.js [paths] [files per path] [runs]`: this measurement alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [paths, files, runs] = process.argv.slice(2).map(Number);
  const result = await measurePresentations({ paths: paths || undefined, filesPerPath: files || undefined, runs: runs || undefined });
  console.log(presentationTable(result));
  console.log(JSON.stringify({ build: result.buildMs, remove: result.removeMs }));
}
