/**
 * Hand-written SVG charts (no dependency earns its place for two chart kinds): a
 * line chart on log–log axes and grouped bars on a log axis. Every series of one
 * picture shares its axes, so nixmount and its references compare by eye.
 */

export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  dashed?: boolean;
}

export interface BarGroup {
  label: string;
  bars: ReadonlyArray<{ name: string; value: number }>;
}

const WIDTH = 800;
const HEIGHT = 400;
const M = { top: 48, right: 250, bottom: 56, left: 72 };
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#7f7f7f'];
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (v >= 1000 ? `${+(v / 1000).toPrecision(3)}k` : `${+v.toPrecision(3)}`);

/** Powers of ten (and 2×, 5× when the range is short) covering [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  const steps = Math.log10(hi) - Math.log10(lo) < 2.5 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const s of steps) {
      const v = s * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

/** `tight`: the axis ends at the data (x of a curve); otherwise at powers of ten around it. */
function logScale(values: number[], from: number, to: number, tight = false) {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  const lo = tight ? Math.min(...positive) : 10 ** Math.floor(Math.log10(Math.min(...positive) * 0.9)); // a bar never sits on the axis
  const hi = tight ? Math.max(...positive) * 1.0001 : 10 ** Math.ceil(Math.log10(Math.max(...positive)));
  const map = (v: number) => from + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (to - from);
  return { lo, hi, map };
}

function frame(title: string, xLabel: string, yLabel: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ${FONT} font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${M.left}" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="${M.left + (WIDTH - M.left - M.right) / 2}" y="${HEIGHT - 12}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(18 ${M.top + (HEIGHT - M.top - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function yAxis(ticks: number[], map: (v: number) => number): string[] {
  const out: string[] = [];
  for (const t of ticks) {
    const y = map(t).toFixed(1);
    out.push(`<line x1="${M.left}" x2="${WIDTH - M.right}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${M.left - 6}" y="${y}" dy="4" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${HEIGHT - M.bottom}" stroke="#333"/>`);
  out.push(`<line x1="${M.left}" x2="${WIDTH - M.right}" y1="${HEIGHT - M.bottom}" y2="${HEIGHT - M.bottom}" stroke="#333"/>`);
  return out;
}

function legend(names: Array<{ name: string; color: string; dashed?: boolean }>): string[] {
  return names.flatMap(({ name, color, dashed }, i) => {
    const y = M.top + 8 + i * 20;
    const x = WIDTH - M.right + 16;
    return [
      `<line x1="${x}" x2="${x + 22}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="3"${dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
      `<text x="${x + 28}" y="${y}" dy="4">${esc(name)}</text>`,
    ];
  });
}

/** Lines on log–log axes (e.g. time against closure size). */
export function lineChart(options: { title: string; xLabel: string; yLabel: string; series: Series[] }): string {
  const all = options.series.flatMap((s) => s.points);
  const x = logScale(all.map((p) => p[0]), M.left + 30, WIDTH - M.right - 30, true);
  const y = logScale(all.map((p) => p[1]), HEIGHT - M.bottom, M.top);
  const body = yAxis(logTicks(y.lo, y.hi), y.map);
  for (const t of new Set(all.map((p) => p[0]))) {
    body.push(`<text x="${x.map(t).toFixed(1)}" y="${HEIGHT - M.bottom + 18}" text-anchor="middle">${fmt(t)}</text>`);
  }
  options.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const points = s.points.filter((p) => p[1] > 0).map((p) => `${x.map(p[0]).toFixed(1)},${y.map(p[1]).toFixed(1)}`);
    body.push(`<polyline fill="none" stroke="${color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="5 3"' : ''} points="${points.join(' ')}"/>`);
    for (const p of points) body.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3.5" fill="${color}"/>`);
  });
  body.push(...legend(options.series.map((s, i) => ({ name: s.name, color: COLORS[i % COLORS.length]!, dashed: s.dashed }))));
  return frame(options.title, options.xLabel, options.yLabel, body);
}

/** Grouped bars on a log axis, each bar labelled with its value; `limits` draws goal lines. */
export function barChart(options: { title: string; yLabel: string; groups: BarGroup[]; limits?: Array<{ name: string; value: number }> }): string {
  const names = [...new Set(options.groups.flatMap((g) => g.bars.map((b) => b.name)))];
  const values = [...options.groups.flatMap((g) => g.bars.map((b) => b.value)), ...(options.limits ?? []).map((l) => l.value)];
  const y = logScale(values, HEIGHT - M.bottom, M.top);
  const body = yAxis(logTicks(y.lo, y.hi), y.map);
  const groupWidth = (WIDTH - M.left - M.right) / options.groups.length;
  const barWidth = Math.min(40, (groupWidth * 0.8) / names.length);
  options.groups.forEach((group, g) => {
    const start = M.left + g * groupWidth + (groupWidth - barWidth * group.bars.length) / 2;
    body.push(`<text x="${(M.left + (g + 0.5) * groupWidth).toFixed(1)}" y="${HEIGHT - M.bottom + 18}" text-anchor="middle">${esc(group.label)}</text>`);
    group.bars.forEach((bar, b) => {
      const color = COLORS[names.indexOf(bar.name) % COLORS.length]!;
      const top = y.map(bar.value);
      const xPos = start + b * barWidth;
      body.push(`<rect x="${xPos.toFixed(1)}" y="${top.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(HEIGHT - M.bottom - top).toFixed(1)}" fill="${color}"/>`);
      body.push(`<text x="${(xPos + barWidth / 2 - 1).toFixed(1)}" y="${(top - 4).toFixed(1)}" text-anchor="middle" font-size="10">${fmt(bar.value)}</text>`);
    });
  });
  for (const limit of options.limits ?? []) {
    const ly = y.map(limit.value).toFixed(1);
    body.push(`<line x1="${M.left}" x2="${WIDTH - M.right}" y1="${ly}" y2="${ly}" stroke="#d62728" stroke-dasharray="6 4"/>`);
    body.push(`<text x="${WIDTH - M.right + 6}" y="${ly}" dy="4" fill="#d62728" font-size="11">${esc(limit.name)}</text>`);
  }
  body.push(...legend(names.map((name, i) => ({ name, color: COLORS[i % COLORS.length]! }))));
  return frame(options.title, '', options.yLabel, body);
}
