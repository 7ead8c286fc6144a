import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { isRelative, links, readDoc, REPO } from '../docs/markdown.js';

// An adapter author has the package and nothing else: every file docs/adapters.md links
// to or names must be in it, and so must what the package's exports name. The package's
// files are npm's own list (`npm pack --dry-run`), not a copy of package.json's rules.

let packed: Promise<Set<string>> | undefined;

function packageFiles(): Promise<Set<string>> {
  packed ??= promisify(execFile)('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 }).then(
    ({ stdout }) => new Set((JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((file) => file.path)),
  );
  return packed;
}

/** `path` (relative to the package) is a shipped file, or a directory holding one. */
function shipped(files: Set<string>, path: string): boolean {
  const clean = normalize(path).replace(/\/$/, '');
  return files.has(clean) || [...files].some((file) => file.startsWith(`${clean}/`));
}

test('every relative link of docs/adapters.md leads to a file the package ships', async (t) => {
  const files = await packageFiles();
  const missing = links(readDoc('docs/adapters.md'))
    .filter((link) => isRelative(link.target) && !link.target.startsWith('#'))
    .map((link) => ({ ...link, path: normalize(join('docs', link.target.split('#')[0]!)) }))
    .filter((link) => !shipped(files, link.path));
  t.deepEqual(missing, []);
});

// Named as another project's file: moby/moby's, where the facts of the Swarm adapter come from.
const ELSEWHERE = new Set(['docs/cluster_volumes.md']);

test('every file docs/adapters.md names in code is shipped (the Swarm walk-through names the example package\'s own files)', async (t) => {
  const files = await packageFiles();
  const named = [...readDoc('docs/adapters.md').matchAll(/`((?:docs|test|src|proto|scripts|sdk-examples|plugin|examples)\/[^`\s…]+)`/g)].map((match) => match[1]!);
  t.true(named.length > 5, `found ${named.length} paths`);
  const missing = named.filter((path) => !ELSEWHERE.has(path) && !shipped(files, path) && !shipped(files, join('sdk-examples/docker-swarm', path)));
  t.deepEqual(missing, []);
});

test('what the package exports is shipped', async (t) => {
  const files = await packageFiles();
  const exports = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>> }).exports;
  const targets = Object.values(exports).flatMap((target) => (typeof target === 'string' ? [target] : Object.values(target)));
  t.deepEqual(targets.filter((target) => !files.has(normalize(target))), []);
  t.true(files.has('proto/csi.proto') && files.has('src/sdk/testkit/closure.nix'));
});
