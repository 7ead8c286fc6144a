import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADAPTER_OPTIONS } from '../../src/adapters/registry.js';
import { optionsOf } from '../../src/settings/command-line.js';
import { COMMANDS, RAW_COMMANDS } from '../../src/cli/commands.js';
import { PLUGIN_OPTIONS } from '../../src/settings/plugin-options.js';

// The plugin's reference in the docs (commands, variables, the flag tables) must say
// what the option table says. The sections are found by heading in README.md or
// docs/*.md, wherever they live.

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SERVE = optionsOf('serve', PLUGIN_OPTIONS, ADAPTER_OPTIONS).map(([, spec]) => spec);

async function docFiles(): Promise<string[]> {
  const docs = await readdir(join(REPO, 'docs')).catch(() => [] as string[]);
  return [join(REPO, 'README.md'), ...docs.filter((name) => name.endsWith('.md')).map((name) => join(REPO, 'docs', name))];
}

/** The text under the heading that is `title` (or `title` and its qualifier), up to the next heading of the same or a higher level. */
async function section(title: string): Promise<string> {
  const found: string[] = [];
  for (const file of await docFiles()) {
    const lines = (await readFile(file, 'utf8')).split('\n');
    let inFence = false;
    let start = -1;
    let level = 0;
    for (const [index, line] of lines.entries()) {
      if (line.startsWith('```')) inFence = !inFence;
      const heading = inFence ? null : /^(#+) (.*)$/.exec(line);
      if (!heading) continue;
      if (start >= 0 && heading[1]!.length <= level) {
        found.push(lines.slice(start, index).join('\n'));
        start = -1;
      }
      // The title whole, or followed by its qualifier: "Source policy (…)", "Binary caches, …" — not "The plugin image".
      if (start < 0 && (heading[2] === title || heading[2]!.startsWith(`${title} (`) || heading[2]!.startsWith(`${title},`))) {
        start = index + 1;
        level = heading[1]!.length;
      }
    }
    if (start >= 0) found.push(lines.slice(start).join('\n'));
  }
  if (found.length !== 1) throw new Error(`expected one section headed "${title}…" in README.md or docs/*.md, found ${found.length}`);
  return found[0]!;
}

interface Row {
  flag: string;
  env?: string;
  default: string;
}

/** The rows of the section's `| flag (env) | default | meaning |` table. */
function flagRows(text: string): Row[] {
  return text
    .split('\n')
    .map((line) => /^\| `--([a-z-]+)`(?: \(`([A-Z_]+)`\))? \| ([^|]*) \|/.exec(line))
    .filter((match) => match !== null)
    .map((match) => ({ flag: match[1]!, env: match[2], default: match[3]!.trim() }));
}

for (const [heading, tableSection] of [
  ['Source policy', 'source policy'],
  ['Binary caches', 'Nix and binary caches'],
] as const) {
  test(`the "${heading}" table lists exactly the table's "${tableSection}" options, with their variables and defaults`, async (t) => {
    const rows = flagRows(await section(heading));
    const options = SERVE.filter((spec) => spec.section === tableSection);
    t.deepEqual(rows.map((row) => row.flag).sort(), options.map((spec) => spec.flag).sort());
    for (const row of rows) {
      const spec = options.find((candidate) => candidate.flag === row.flag)!;
      t.is(row.env, spec.env, `--${row.flag}'s variable`);
      const literal = /^`([^`]*)`$/.exec(row.default)?.[1];
      if (literal !== undefined) t.is<string | undefined, string | undefined>(literal, typeof spec.default === 'function' ? spec.default() : spec.default, `--${row.flag}'s default`);
      else t.is(spec.default, undefined, `--${row.flag}: the docs describe a default ("${row.default}") where the table has "${String(spec.default)}"`);
    }
  });
}

test('"The plugin" names every command, each with flags it takes, and enum values as the table has them', async (t) => {
  const text = await section('The plugin');
  const block = /```\n([\s\S]*?)```/.exec(text)?.[1];
  t.truthy(block, 'a fenced block of commands');
  const lines = block!.replace(/\\\n/g, ' ').split('\n').map((line) => line.replace(/#.*$/, ''));
  const named = new Set<string>();
  for (const usage of lines.flatMap((line) => line.split(/(?<=^|\s)(?=nixmount )/)).filter((part) => part.startsWith('nixmount '))) {
    const words = usage.slice('nixmount '.length);
    // Commands that read their own command line (host-volume, own-store) have no table to check against.
    if (RAW_COMMANDS.some((raw) => words === raw.name || words.startsWith(`${raw.name} `))) continue;
    const command = COMMANDS.find((candidate) => words === candidate.name || words.startsWith(`${candidate.name} `));
    if (!command) {
      t.fail(`"${usage.trim()}" names no command`);
      continue;
    }
    named.add(command.name);
    for (const [, flag, values] of words.matchAll(/--([a-z][a-z-]*)(?: ([a-z]+(?:[|,][a-z]+)+))?/g)) {
      const spec = command.options.find(([, candidate]) => candidate.flag === flag)?.[1];
      t.truthy(spec, `nixmount ${command.name} takes --${flag}`);
      if (spec && values) t.deepEqual(values.split(/[|,]/).sort(), [...(spec.choices ?? [])].sort(), `--${flag}'s values`);
    }
  }
  t.deepEqual([...named].sort(), COMMANDS.map((command) => command.name).sort());
});

test('"The plugin" names exactly the variables the plugin reads (with the two tables), and no CSI_ one but CSI_ENDPOINT', async (t) => {
  const text = [await section('The plugin'), await section('Source policy'), await section('Binary caches')].join('\n');
  const documented = new Set(text.match(/\b(NIXMOUNT|CSI)_[A-Z_]+\b/g));
  const read = SERVE.map((spec) => spec.env).filter((env) => env !== undefined);
  t.deepEqual([...documented].sort(), [...new Set(read)].sort());
  t.deepEqual(read.filter((env) => env.startsWith('CSI_')), ['CSI_ENDPOINT']);
});
