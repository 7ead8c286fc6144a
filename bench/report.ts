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

export function targetTable(targets: readonly Target[]): { text: string; missed: number } {
  let missed = 0;
  const rows = targets.map((target) => {
    const { pass, margin } = verdict(target);
    if (!pass) missed++;
    const bound = { max: '≤', min: '≥', exact: '=' }[target.kind];
    return [pass ? 'PASS' : 'MISS', target.name, target.show(target.value), `${bound} ${target.show(target.limit)}`, margin];
  });
  return { text: markdownTable(['', 'target', 'measured', 'limit', 'margin'], rows), missed };
}
