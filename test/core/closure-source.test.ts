import test from 'ava';
import { CachePusher } from '../../src/core/cache-pusher.js';
import { ClosureSource } from '../../src/core/closure-source.js';
import { InvalidArgumentError, PermissionDeniedError } from '../../src/core/errors.js';
import { emptySpec, type VolumeSpec } from '../../src/core/volume-spec.js';
import { createTestContainer } from '../helpers/test-container.js';

const APP = '/nix/store/0a3jqd8x6hyqwl0j5qvfr6x4m8x5xk3q-app';
const DRV = '/nix/store/1b4kqd8x6hyqwl0j5qvfr6x4m8x5xk3q-app.drv';
const LIB = '/nix/store/2c5lqd8x6hyqwl0j5qvfr6x4m8x5xk3q-lib';
const ARM = '/nix/store/3d6mqd8x6hyqwl0j5qvfr6x4m8x5xk3q-arm';

function spec(fields: Partial<VolumeSpec>): VolumeSpec {
  return { ...emptySpec(), ...fields };
}

function setup(sources: NonNullable<Parameters<typeof createTestContainer>[0]>['sources'] = {}) {
  const c = createTestContainer({ sources: { realiseWaitMs: 0, ...sources } });
  c.nix.expressions.set('{ }: app', { output: APP, target: `${DRV}!out` });
  c.nix.flakes.set('github:org/repo#app', { output: APP, target: `${DRV}!out` });
  return { ...c, source: c.container.get(ClosureSource) };
}

test('the policy is checked before anything is evaluated', async (t) => {
  const { source, nix } = setup();
  await t.throwsAsync(source.prepare(spec({ expression: '{ }: app' })), { instanceOf: PermissionDeniedError, message: /allow-sources/ });
  await t.throwsAsync(source.prepare(spec({ flakeRef: 'github:org/repo#app' })), { instanceOf: PermissionDeniedError, message: /allow-sources/ });
  t.is(nix.calls.evaluate, 0);
});

test('valid roots need no realise; missing ones are realised from their derivation, substitute-only by default', async (t) => {
  const { source, nix } = setup({ policy: { allowExpressions: true } });
  nix.add(LIB);
  t.deepEqual((await source.prepare(spec({ storePaths: [LIB], expression: '{ }: app' }))).roots, [APP, LIB].sort());
  t.deepEqual(nix.calls.realise, [{ targets: [`${DRV}!out`], mayBuild: false }]);
  t.deepEqual((await source.prepare(spec({ storePaths: [LIB], expression: '{ }: app' }))).roots, [APP, LIB].sort());
  t.is(nix.calls.realise.length, 1, 'valid now: nothing more to realise');
});

test('a node allowed to build realises with builds, and pushes what it realised to its cache', async (t) => {
  const { source, nix, container } = setup({ policy: { allowFlakes: true, allowBuilds: true }, pushTo: 'file:///cache' });
  await source.prepare(spec({ flakeRef: 'github:org/repo#app' }));
  t.deepEqual(nix.calls.realise, [{ targets: [`${DRV}!out`], mayBuild: true }]);
  await container.get(CachePusher).settled();
  t.deepEqual(nix.calls.push, [{ uri: 'file:///cache', paths: [APP] }]);
});

test('a push that fails costs a warning, not the volume', async (t) => {
  const { source, nix, log, container } = setup({ policy: { allowExpressions: true }, pushTo: 'file:///cache' });
  nix.pushError = new Error('cache is read-only');
  t.deepEqual((await source.prepare(spec({ expression: '{ }: app' }))).roots, [APP]);
  const pusher = container.get(CachePusher);
  await pusher.settled();
  pusher.stop();
  t.is(log.count('pushing realised paths to the cache failed; they stay queued'), 1);
  t.is(pusher.waiting, 1, 'the path stays queued for the next round');
});

test('progress of a realise goes to the logs', async (t) => {
  const { source, log } = setup({ policy: { allowExpressions: true } });
  await source.prepare(spec({ expression: '{ }: app' }));
  const fetching = log.records.find((record) => record.message === 'fetching store path');
  t.is(fetching?.fields.progress, 'realising: fetching 1/1 paths (1.5 MiB to download)');
  t.is(log.count('realise plan'), 1);
});

test('<system> keys: the node system is chosen; only other systems is an error listing them', async (t) => {
  const { source, nix } = setup();
  nix.add(APP);
  t.deepEqual((await source.prepare(spec({ systemPaths: { 'x86_64-linux': [APP], 'aarch64-linux': [ARM] } }))).roots, [APP]);
  await t.throwsAsync(source.prepare(spec({ systemPaths: { 'aarch64-linux': [ARM], 'aarch64-darwin': [ARM] } })), {
    instanceOf: InvalidArgumentError,
    message: 'the volume names store paths only for aarch64-darwin, aarch64-linux; this node is x86_64-linux',
  });
});

test('refresh evaluates again and forgets a remembered failure', async (t) => {
  const { source, nix } = setup({ policy: { allowExpressions: true }, failureMemoryMs: 60_000 });
  await source.prepare(spec({ expression: '{ }: app' }));
  await source.prepare(spec({ expression: '{ }: app' }));
  t.is(nix.calls.evaluate, 1);
  await source.prepare(spec({ expression: '{ }: app' }), undefined, { refresh: true });
  t.is(nix.calls.evaluate, 2);

  nix.valid.clear();
  nix.realiseError = new Error('cache down');
  await t.throwsAsync(source.prepare(spec({ expression: '{ }: app' })), { message: 'cache down' });
  nix.realiseError = undefined;
  await t.throwsAsync(source.prepare(spec({ expression: '{ }: app' })), { message: 'cache down' }, 'remembered');
  t.deepEqual((await source.prepare(spec({ expression: '{ }: app' }), undefined, { refresh: true })).roots, [APP]);
});
