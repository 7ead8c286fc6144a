import test from 'ava';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { buildFixture } from '../helpers/nix.js';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { startTestPlugin } from '../helpers/plugin.js';
import { RecordingLogger } from '../helpers/recording-logger.js';
import { tempDir } from '../helpers/temp.js';
import { assertNothingLeft, buildCount, countedExpression, nixBuildClosure, publishRequest, storeOf, uniqueSalt, counterFile } from '../helpers/sources.js';

const expressions = { policy: { allowExpressions: true, allowBuilds: true } };

test('an expression publishes, and its closure is the one nix build gives', async (t) => {
  const node = await startTestPlugin(t, { sources: expressions });
  const salt = uniqueSalt();
  const counter = await counterFile(t);
  const expression = countedExpression({ salt, counter, withData: true });
  const target = join(node.dir, 'target');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-expr', target, { expression }));

  const expected = await nixBuildClosure({ expr: `(${expression}) {}` });
  t.true(expected.length >= 4);
  t.deepEqual(await storeOf(target), expected);
  t.is(await readFile(join(target, 'var/result/greeting'), 'utf8'), `counted ${salt}\n`);
  t.is(await buildCount(counter), 1);
});

test('an expression that is a derivation (not a function) publishes too', async (t) => {
  const node = await startTestPlugin(t, { sources: expressions });
  const salt = uniqueSalt();
  const expression = `(${countedExpression({ salt, counter: await counterFile(t) })}) {}`;
  const target = join(node.dir, 'target');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-drv', target, { expression }));
  t.deepEqual(await storeOf(target), await nixBuildClosure({ expr: expression }));
});

test('expressions are refused by the default policy with PERMISSION_DENIED naming it', async (t) => {
  const node = await startTestPlugin(t);
  const target = join(node.dir, 'target');
  const counter = await counterFile(t);
  const expression = countedExpression({ salt: uniqueSalt(), counter });
  const result = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-policy', target, { expression }));
  t.is(result.code, status.PERMISSION_DENIED);
  t.regex(result.details, /source policy.*--allow-sources/);
  t.is(await buildCount(counter), 0);
  await assertNothingLeft(t, node, target);
});

test('a syntax error is INVALID_ARGUMENT quoting Nix, and leaves nothing behind', async (t) => {
  const node = await startTestPlugin(t, { sources: expressions });
  const target = join(node.dir, 'target');
  const result = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-syntax', target, { expression: '{ }: derivation { name = "x"; system = ; }' }));
  t.is(result.code, status.INVALID_ARGUMENT);
  t.regex(result.details, /syntax error, unexpected ';'/);
  t.regex(result.details, /at «string»:1:/); // Nix's position is the user's own first line
  await assertNothingLeft(t, node, target);
});

test('a failing build is FAILED_PRECONDITION with the tail of its log; a retry is answered from memory', async (t) => {
  const node = await startTestPlugin(t, { sources: expressions });
  const counter = await counterFile(t);
  const target = join(node.dir, 'target');
  const expression = countedExpression({ salt: uniqueSalt(), counter, fail: true });
  const first = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-fail', target, { expression }));
  t.is(first.code, status.FAILED_PRECONDITION);
  t.regex(first.details, /build of \/nix\/store\/\S+-nixmount-counted-\S+\.drv failed/);
  t.regex(first.details, /compiling part one/);
  t.regex(first.details, /fatal: the answer is not 42/);
  await assertNothingLeft(t, node, target);

  const retry = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-fail', target, { expression }));
  t.is(retry.code, status.FAILED_PRECONDITION);
  t.is(await buildCount(counter), 1, 'the failing derivation was built once, not once per retry');
  await assertNothingLeft(t, node, target);
});

test('five concurrent publishes of one expression share one evaluation and one realisation', async (t) => {
  const logger = new RecordingLogger();
  const node = await startTestPlugin(t, { sources: expressions, logger });
  const counter = await counterFile(t);
  const expression = countedExpression({ salt: uniqueSalt(), counter, sleep: 1 });
  const targets = [1, 2, 3, 4, 5].map((n) => join(node.dir, `target-${n}`));
  await Promise.all(targets.map((target, n) => node.client.call('node', 'NodePublishVolume', publishRequest(`vol-${n}`, target, { expression }))));

  t.is(logger.count('evaluating'), 1);
  t.is(logger.count('realising store paths missing from the node store'), 1);
  t.is(await buildCount(counter), 1);
  const stores = await Promise.all(targets.map((target) => storeOf(target)));
  for (const store of stores) t.deepEqual(store, stores[0]);
});

test('the view is keyed by the closure: an expression and the store path it gives share one view; roots combine', async (t) => {
  const node = await startTestPlugin(t, { sources: expressions, settings: { viewIdleMs: 60_000 } });
  const counter = await counterFile(t);
  const expression = countedExpression({ salt: uniqueSalt(), counter });
  const byExpression = join(node.dir, 'by-expression');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-e', byExpression, { expression }));
  const output = await readlink(join(byExpression, 'var/result'));

  const byPath = join(node.dir, 'by-path');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-p', byPath, { paths: output }));
  t.is((await readdir(join(node.stateDir, 'views'))).length, 1, 'one view for both volumes');

  const fixture = await buildFixture();
  const combined = join(node.dir, 'combined');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-c', combined, { paths: fixture.root, expression }));
  t.deepEqual((await readdir(join(combined, 'var/result'))).sort(), [output, fixture.root].map((p) => p.slice('/nix/store/'.length + 33)).sort());
  t.is((await readdir(join(node.stateDir, 'views'))).length, 2);
  t.is(await buildCount(counter), 1);
});

test('import-from-derivation cannot build during evaluation on a node that may not build', async (t) => {
  const node = await startTestPlugin(t, { sources: { policy: { allowExpressions: true, allowBuilds: false } } });
  const counter = await counterFile(t);
  const inner = countedExpression({ salt: uniqueSalt(), counter });
  // The outer derivation's name is read from the inner one's output: evaluating it needs a build.
  const expression = `let inner = (${inner}) {}; in derivation { name = "ifd-\${builtins.substring 0 7 (builtins.readFile "\${inner}/greeting")}"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; }`;
  const target = join(node.dir, 'target');
  const result = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-ifd', target, { expression }));
  t.is(result.code, status.PERMISSION_DENIED, result.details);
  t.regex(result.details, /needs a build while it is evaluated \(import from derivation\).*--builds allowed/);
  t.is(await buildCount(counter), 0);
  await assertNothingLeft(t, node, target);
});

test('an expression cannot read files outside the allowed paths, and errors hand back only their first line', async (t) => {
  const node = await startTestPlugin(t, { sources: expressions });
  const secretDir = await tempDir(t, 'nixmount-secret-');
  const secret = join(secretDir, 'shadow');
  await writeFile(secret, 'SECRET-first-line\nSECRET-second-line\n');
  const cases: Array<[string, RegExp]> = [
    [`{ }: throw (builtins.readFile ${secret})`, /access to absolute path '[^']*shadow' is forbidden in restricted mode/],
    [`{ }: throw (builtins.readFile "${secret}")`, /forbidden in restricted mode/],
    [`{ }: builtins.trace (builtins.readFile ${secret}) (throw "after a trace")`, /forbidden in restricted mode/],
    [`{ }: import ${secret}`, /forbidden in restricted mode/],
    ['{ }: throw "shown\\nSECRET-second-line"', /^expression could not be evaluated: error: shown$/],
  ];
  for (const [index, [expression, expected]] of cases.entries()) {
    const target = join(node.dir, `target-${index}`);
    const result = await node.client.code('node', 'NodePublishVolume', publishRequest(`vol-secret-${index}`, target, { expression }));
    t.is(result.code, status.INVALID_ARGUMENT, expression);
    t.regex(result.details, expected, expression);
    t.notRegex(result.details, /SECRET/, expression);
    t.true(result.details.length <= 600, 'bounded');
    await assertNothingLeft(t, node, target);
  }
});
