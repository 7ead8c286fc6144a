import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeClosureFile, type ProvenanceEntry } from '../src/platform/closure-provenance.js';
import { SBOM_FILE, writeSbomFile } from '../src/platform/cyclonedx-sbom.js';
import { formatBytes, formatMs } from './report.js';
import { median, timed } from './stats.js';

// What the SBOM adds to a view build: writing sbom.cdx.json against writing closure.json
// (the baseline, same entries, same process, alternating) for closures of growing size.
// Both are written while `nix-store --load-db` registers the closure, so this is CPU the
// build spends beside Nix, not time added to it end to end.

export interface ClosureFilesPoint {
  paths: number;
  closureMs: number[];
  sbomMs: number[];
  closureBytes: number;
  sbomBytes: number;
}

const NIX32 = '0123456789abcdfghijklmnpqrsvwxyz';

/** A closure of `count` synthetic paths as path-info describes a substituted one: 5 references, a deriver, a signature each. */
function syntheticClosure(count: number): ProvenanceEntry[] {
  const path = (i: number) => `/nix/store/${Array.from({ length: 32 }, (_, k) => NIX32[(i * 7 + k * 13) % 32]).join('')}-pkg${i}-1.${i % 10}.${i % 7}`;
  return Array.from({ length: count }, (_, i) => ({
    path: path(i),
    narHash: `sha256-${Buffer.alloc(32, i % 251).toString('base64')}`,
    narSize: 100_000 + i,
    references: [i, ...[1, 2, 3, 4].map((d) => Math.max(0, i - d))].map(path),
    deriver: `${path(i)}.drv`,
    signatures: [`cache.example.org-1:${Buffer.alloc(64, i % 13).toString('base64')}`],
    registrationTime: 1_700_000_000,
    origin: 'substituted',
    substituter: 'https://cache.example.org',
  }));
}

export async function measureClosureFiles(options: { sizes?: number[]; runs?: number } = {}): Promise<ClosureFilesPoint[]> {
  const sizes = options.sizes ?? [100, 1_000, 10_000];
  const runs = options.runs ?? 7;
  const dir = await mkdtemp(join(tmpdir(), 'nixmount-bench-closure-files-'));
  const points: ClosureFilesPoint[] = [];
  try {
    for (const paths of sizes) {
      const entries = syntheticClosure(paths);
      const roots = [entries[entries.length - 1]!.path];
      const point: ClosureFilesPoint = { paths, closureMs: [], sbomMs: [], closureBytes: 0, sbomBytes: 0 };
      for (let run = 0; run < runs; run++) {
        const root = join(dir, `${paths}-${run}`);
        const order = run % 2 === 0 ? (['closure', 'sbom'] as const) : (['sbom', 'closure'] as const);
        for (const which of order) {
          if (which === 'closure') point.closureMs.push((await timed(() => writeClosureFile(root, entries))).ms);
          else point.sbomMs.push((await timed(() => writeSbomFile(root, roots, entries))).ms);
        }
        point.closureBytes = (await stat(join(root, 'nix/var/nixmount/closure.json'))).size;
        point.sbomBytes = (await stat(join(root, 'nix', SBOM_FILE))).size;
        await rm(root, { recursive: true, force: true });
      }
      points.push(point);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return points;
}

export function closureFilesTable(points: readonly ClosureFilesPoint[]): string {
  const runs = points[0]?.closureMs.length ?? 0;
  return [
    `Closure files per view: sbom.cdx.json against closure.json (the baseline), median of ${runs} runs each (same process, alternating)`,
    '',
    '| store paths | closure.json | sbom.cdx.json | ratio | sizes (closure.json / sbom) |',
    '|---|---|---|---|---|',
    ...points.map((p) => {
      const ratio = median(p.sbomMs) / median(p.closureMs);
      return `| ${p.paths} | ${formatMs(median(p.closureMs))} | ${formatMs(median(p.sbomMs))} | ${ratio.toFixed(2)}× | ${formatBytes(p.closureBytes)} / ${formatBytes(p.sbomBytes)} |`;
    }),
  ].join('\n');
}

// `node dist/bench/closure-files.js [runs]`: this measurement alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const runs = Number(process.argv[2]) || undefined;
  console.log(closureFilesTable(await measureClosureFiles({ runs })));
}
