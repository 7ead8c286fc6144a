import test from 'ava';
import { EvaluationCache, isLockedFlakeRef } from '../../src/core/evaluation-cache.js';
import { createTestContainer } from '../helpers/test-container.js';

const EVALUATION = { output: '/nix/store/0a3jqd8x6hyqwl0j5qvfr6x4m8x5xk3q-app', target: '/nix/store/1b4kqd8x6hyqwl0j5qvfr6x4m8x5xk3q-app.drv!out' };
const LOCKED = 'github:org/repo/0123456789abcdef0123456789abcdef01234567#app';

function setup() {
  const c = createTestContainer({ sources: { evalTtlMs: 60_000 } });
  c.nix.expressions.set('e', EVALUATION);
  c.nix.flakes.set('github:org/repo#app', EVALUATION);
  c.nix.flakes.set(LOCKED, EVALUATION);
  return { ...c, cache: c.container.get(EvaluationCache) };
}

test('an expression is evaluated again only after the TTL', async (t) => {
  const { cache, nix, clock } = setup();
  await Promise.all([cache.expression('e'), cache.expression('e')]);
  clock.advance(59_000);
  await cache.expression('e');
  t.is(nix.calls.evaluate, 1);
  clock.advance(2_000);
  await cache.expression('e');
  t.is(nix.calls.evaluate, 2);
});

test('an unlocked flake expires, a locked one never does; refresh always evaluates', async (t) => {
  const { cache, nix, clock } = setup();
  await cache.flake('github:org/repo#app');
  await cache.flake(LOCKED);
  clock.advance(24 * 3_600_000);
  await cache.flake('github:org/repo#app');
  await cache.flake(LOCKED);
  t.is(nix.calls.evaluate, 3);
  await cache.flake(LOCKED, { refresh: true });
  t.is(nix.calls.evaluate, 4);
});

test('a failed evaluation is not kept', async (t) => {
  const { cache, nix } = setup();
  await t.throwsAsync(cache.expression('unknown'));
  nix.expressions.set('unknown', EVALUATION);
  t.deepEqual(await cache.expression('unknown'), EVALUATION);
});

test('locked flake refs: pinned revisions and hashes', (t) => {
  t.true(isLockedFlakeRef(LOCKED));
  t.true(isLockedFlakeRef('git+https://example.org/r?rev=0123456789abcdef0123456789abcdef01234567#x'));
  t.true(isLockedFlakeRef('path:/srv/flake?narHash=sha256-AAAA#x'));
  t.false(isLockedFlakeRef('github:org/repo#app'));
  t.false(isLockedFlakeRef('github:org/repo/main#app'));
  t.false(isLockedFlakeRef('path:/srv/flake#x'));
});
