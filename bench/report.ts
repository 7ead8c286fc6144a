import { formatBytes, formatMs } from './stats.js';

export interface Row {
  measurement: string;
  nixmount: string;
  reference: string;
  ratio: string;
}

export interface Target {
  name: string;
  /** The measured value, in the target's unit. */
  value: number;
  limit: number;
  /** 'max': value must stay at or below limit; 'min': at or above; 'exact': equal. */
  kind: 'max' | 'min' | 'exact';
  show: (value: number) => string;
  /** Relative noise this run measured for the value (0.1 = ±10 %); --check fails only beyond it. */
  noise?: number;
}

export const times = (ratio: number): string => (Number.isFinite(ratio) ? `${ratio >= 100 ? ratio.toFixed(0) : ratio.toFixed(2)}×` : 'n/a');
export const percent = (share: number): string => `${(share * 100).toFixed(1)}%`;
export { formatBytes, formatMs };

function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function measurementTable(rows: readonly Row[]): string {
  return markdownTable(['measurement', 'nixmount', 'reference (same run)', 'ratio'], rows.map((r) => [r.measurement, r.nixmount, r.reference, r.ratio]));
}

function verdict(target: Target): { pass: boolean; margin: string } {
  const { value, limit, kind } = target;
  if (kind === 'exact') return { pass: value === limit, margin: value === limit ? 'exact' : `off by ${value - limit}` };
  const pass = kind === 'max' ? value <= limit : value >= limit;
  const factor = kind === 'max' ? value / limit : limit / value;
  const margin = pass ? `${times(1 / factor)} headroom` : `${times(factor)} ${kind === 'max' ? 'over' : 'short of'} the limit`;
  return { pass, margin };
}

export function targetTable(targets: readonly Target[]): { text: string; missed: number; beyondNoise: number } {
  let missed = 0;
  let beyondNoise = 0;
  const rows = targets.map((target) => {
    const { pass, margin } = verdict(target);
    const noise = target.noise ?? 0;
    let status = pass ? 'PASS' : 'MISS';
    if (!pass) {
      missed++;
      const tolerated = target.kind === 'exact' ? false : verdict({ ...target, limit: target.kind === 'max' ? target.limit * (1 + noise) : target.limit / (1 + noise) }).pass;
      if (tolerated) status = 'MISS (within noise)';
      else beyondNoise++;
    }
    const bound = { max: '≤', min: '≥', exact: '=' }[target.kind];
    return [status, target.name, target.show(target.value), `${bound} ${target.show(target.limit)}`, margin, target.kind === 'exact' ? '' : `±${(noise * 100).toFixed(0)}%`];
  });
  return { text: markdownTable(['', 'goal', 'measured', 'limit', 'margin', 'noise'], rows), missed, beyondNoise };
}
