import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { CLI } from '../helpers/serve-process.js';
import { docFiles, fencedBlocks, readDoc, REPO } from './markdown.js';

// Commands the docs name but no test runs (they need a cluster) can still rot by
// name: a renamed npm script or nixmount subcommand. These catch that much.

/** Shell text of the docs: sh and unlabelled fenced blocks, and inline code spans. */
function shellText(): Array<{ file: string; text: string }> {
  return docFiles().flatMap((file) => {
    const doc = readDoc(file);
    const blocks = fencedBlocks(doc).filter((block) => block.lang === 'sh' || block.lang === '');
    const spans = [...doc.matchAll(/`([^`\n]+)`/g)].map((match) => match[1]!);
    return [...blocks.map((block) => block.body), ...spans].map((text) => ({ file, text }));
  });
}

/** `nixmount WORD [WORD]` where a shell command starts: a line, or after | ; && || $( . */
function nixmountCommands(text: string): Array<[string, string | undefined]> {
  return [...text.matchAll(/(?:^|[|;(]|&&)\s*nixmount\s+([a-z0-9][\w-]*)(?:\s+([a-z][\w-]*))?/gm)].map((match) => [match[1]!, match[2]]);
}

test('every npm script the docs name exists in package.json', (t) => {
  const scripts = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const named = new Set<string>();
  for (const { text } of shellText()) {
    for (const match of text.matchAll(/\bnpm (?:run ([\w:-]+)|(test)\b)/g)) named.add(match[1] ?? match[2]!);
  }
  t.true(named.has('demo') && named.has('test'), 'the quick start names npm run demo and npm test');
  t.deepEqual([...named].filter((name) => !(name in scripts)), []);
});

test('every nixmount command and subcommand the docs name is one the CLI has', async (t) => {
  const help = async (...args: string[]) => {
    const result = await execa('node', [CLI, ...args, '--help'], { reject: false, all: true });
    return result.all ?? '';
  };
  const top = await help();
  const unknown: string[] = [];
  const seen = new Set<string>();
  for (const { file, text } of shellText()) {
    for (const [command, sub] of nixmountCommands(text)) {
      if (command.startsWith('-')) continue;
      const key = `${command} ${sub ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (!new RegExp(`^\\s+${command}\\b`, 'm').test(top)) unknown.push(`${file}: nixmount ${command}`);
      else if ((command === 'k8s' || command === 'nomad') && sub && !new RegExp(`\\b${sub}\\b`).test(await help(command))) {
        unknown.push(`${file}: nixmount ${command} ${sub}`);
      }
    }
  }
  t.true(seen.size >= 6, `found only ${[...seen].join(', ')}`);
  t.deepEqual(unknown, []);
});
