import test from 'ava';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * Every module `file` loads before its first line runs: its static imports, transitively
 * (a dynamic `import()` loads on demand). Packages are listed by name, not followed.
 */
async function staticClosure(file: string, seen = new Set<string>()): Promise<Set<string>> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = await readFile(file, 'utf8');
  for (const [, specifier] of text.matchAll(/(?:^import|\bfrom) '([^']+)'/gm)) {
    if (specifier!.startsWith('.')) await staticClosure(resolve(dirname(file), specifier!), seen);
    else seen.add(specifier!);
  }
  return seen;
}

test('neither the CLI nor `serve` loads the HCL parser (about 50 MiB), which only the nomad tooling needs', async (t) => {
  for (const entry of ['cli.js', 'cli/serve.js']) {
    const loaded = [...(await staticClosure(resolve(DIST, entry)))];
    t.true(loaded.length > 10, entry);
    t.deepEqual(loaded.filter((file) => /hcl/.test(file)), [], entry);
  }
  const nomad = [...(await staticClosure(resolve(DIST, 'cli/nomad.js')))];
  t.true(nomad.some((file) => file.includes('hcl2-parser')), 'the check sees the parser where it is loaded');
});
