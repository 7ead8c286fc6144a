/**
 * Samples of a Prometheus text exposition, by `name{label="value",…}` with the labels
 * sorted, so a test asks for exact series whatever order the exporter wrote them in.
 */
export type Samples = Map<string, number>;

export function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const inner = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  return inner ? `${name}{${inner}}` : name;
}

export function parseExposition(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    samples.set(seriesKey(match[1]!, labels), Number(match[3]));
  }
  return samples;
}

/** The value of one series; a missing series fails loudly rather than reading as 0. */
export function sample(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  const key = seriesKey(name, labels);
  const value = samples.get(key);
  if (value === undefined) throw new Error(`no series ${key}; have: ${[...samples.keys()].filter((k) => k.startsWith(name)).join(' ') || 'none of that name'}`);
  return value;
}

/** Every series of `name` (all label sets), by key. */
export function seriesOf(samples: Samples, name: string): Record<string, number> {
  return Object.fromEntries([...samples].filter(([key]) => key === name || key.startsWith(`${name}{`)));
}
