import test from 'ava';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { anchors, docFiles, isRelative, links, readDoc, REPO } from './markdown.js';

// Every relative link in README.md and docs/*.md must lead somewhere: the file (or
// folder) exists, and a #fragment into a Markdown file names one of its headings.
// Moving a section between files is exactly when links break; this catches it.

function broken(file: string): string[] {
  const problems: string[] = [];
  for (const { line, target } of links(readDoc(file))) {
    if (!isRelative(target)) continue;
    const hash = target.indexOf('#');
    const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const fragment = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const resolved = pathPart === '' ? join(REPO, file) : pathPart.startsWith('/') ? join(REPO, pathPart) : join(REPO, dirname(file), pathPart);
    const where = `${file}:${line}: ${target}`;
    if (!resolved.startsWith(REPO)) {
      problems.push(`${where}: leaves the repository`);
    } else if (!existsSync(resolved)) {
      problems.push(`${where}: ${relative(REPO, resolved)} does not exist`);
    } else if (fragment !== undefined && resolved.endsWith('.md') && statSync(resolved).isFile()) {
      if (!anchors(readDoc(relative(REPO, resolved))).has(fragment)) {
        problems.push(`${where}: ${relative(REPO, resolved)} has no heading with the anchor #${fragment}`);
      }
    }
  }
  return problems;
}

for (const file of docFiles()) {
  test(`every relative link in ${file} points to an existing file and heading`, (t) => {
    t.deepEqual(broken(file), []);
  });
}

test('the README links to every file in docs/', (t) => {
  const linked = new Set(links(readDoc('README.md')).map(({ target }) => target.split('#')[0]));
  const missing = docFiles().filter((file) => file.startsWith('docs/') && !linked.has(file));
  t.deepEqual(missing, []);
});
