import test from 'ava';
import { anchors, fencedBlocks, isRelative, isRunnable, links, slug } from './markdown.js';

// The docs tests are only as good as what they extract: these pin each rule.

test('fenced blocks: language, attributes, line and body; runnable only when marked', (t) => {
  const text = ['intro', '```sh runnable', 'nixmount --help', '```', '', '```sh', 'kubectl apply -k manifests/', '```', '~~~', 'plain', '~~~'].join('\n');
  const blocks = fencedBlocks(text);
  t.deepEqual(blocks, [
    { line: 2, lang: 'sh', attributes: ['runnable'], body: 'nixmount --help' },
    { line: 6, lang: 'sh', attributes: [], body: 'kubectl apply -k manifests/' },
    { line: 9, lang: '', attributes: [], body: 'plain' },
  ]);
  t.deepEqual(blocks.map(isRunnable), [true, false, false]);
});

test('a block shown inside a longer fence is text, not a block of its own', (t) => {
  const text = ['````markdown', '```sh runnable', 'rm -rf /', '```', '````'].join('\n');
  t.deepEqual(fencedBlocks(text), [{ line: 1, lang: 'markdown', attributes: [], body: '```sh runnable\nrm -rf /\n```' }]);
});

test("an indented block (in a list item) loses its fence's indentation", (t) => {
  const text = ['- run it:', '', '  ```sh runnable', '  echo one', '    echo two', '  ```'].join('\n');
  t.is(fencedBlocks(text)[0]?.body, 'echo one\n  echo two');
});

test('an unclosed fence is an error, not a silently swallowed file', (t) => {
  t.throws(() => fencedBlocks('```sh\necho'), { message: 'line 1: fence ``` is never closed' });
});

test("headings get GitHub's anchors, duplicates numbered", (t) => {
  t.is(slug('Source policy (`nixmount serve` flags)'), 'source-policy-nixmount-serve-flags');
  t.is(slug("Where the controller's state lives (decision)"), 'where-the-controllers-state-lives-decision');
  t.is(slug('1. Run the plugin job'), '1-run-the-plugin-job');
  t.is(slug('Nomad: `nomad volume create`'), 'nomad-nomad-volume-create');
  t.is(slug('Failures and what nixmount never touches'), 'failures-and-what-nixmount-never-touches');
  const text = ['# Nomad', '## Install', '```sh', '# not a heading', '```', '### Install ##'].join('\n');
  t.deepEqual([...anchors(text)], ['nomad', 'install', 'install-1']);
});

test('links: inline, images and definitions, never inside code', (t) => {
  const text = [
    'See [sources](docs/sources.md#evaluation-caching "title") and ![logo](img/logo.png).',
    'Not `[code](nowhere.md)`, but [this](<a b.md>).',
    '```',
    '[in a block](nowhere.md)',
    '```',
    '[ref]: docs/nomad.md',
  ].join('\n');
  t.deepEqual(links(text), [
    { line: 1, target: 'docs/sources.md#evaluation-caching' },
    { line: 1, target: 'img/logo.png' },
    { line: 2, target: 'a b.md' },
    { line: 6, target: 'docs/nomad.md' },
  ]);
});

test('only links into the repository are checked', (t) => {
  t.deepEqual(
    ['docs/x.md', '#here', '../README.md', 'https://github.com/x', 'mailto:a@b', '//cdn.example/x'].map(isRelative),
    [true, true, true, false, false, false],
  );
});
