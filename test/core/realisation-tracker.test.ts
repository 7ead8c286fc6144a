import test from 'ava';
import { AbortedError, FailedPreconditionError } from '../../src/core/errors.js';
import { RealisationTracker } from '../../src/core/realisation-tracker.js';
import { Deferred } from '../helpers/fakes.js';
import { createTestContainer } from '../helpers/test-container.js';

function tracker(sources: { realiseWaitMs?: number; failureMemoryMs?: number } = {}) {
  const c = createTestContainer({ sources: { realiseWaitMs: 20, failureMemoryMs: 30_000, ...sources } });
  return { ...c, tracker: c.container.get(RealisationTracker) };
}

test('concurrent runs of one key share one piece of work', async (t) => {
  const { tracker: subject } = tracker({ realiseWaitMs: 0 });
  const gate = new Deferred();
  let runs = 0;
  const work = async () => {
    runs++;
    await gate.promise;
    return ['/nix/store/r'];
  };
  const all = Promise.all([1, 2, 3, 4, 5].map(() => subject.run('k', 'source', work)));
  gate.resolve();
  t.deepEqual(await all, Array(5).fill(['/nix/store/r']));
  t.is(runs, 1);
});

test('work outlasting the wait answers ABORTED with progress; it goes on and a retry gets its result', async (t) => {
  const { tracker: subject } = tracker();
  const gate = new Deferred();
  let runs = 0;
  const work = async (progress: import('../../src/core/realise-progress.js').RealiseProgress) => {
    runs++;
    progress.phase = 'realising';
    progress.apply({ kind: 'plan', fetch: 7, build: 0, downloadMiB: 12 });
    progress.apply({ kind: 'fetching', path: '/nix/store/a', from: 'http://cache' });
    progress.apply({ kind: 'fetching', path: '/nix/store/b', from: 'http://cache' });
    await gate.promise;
    return 'done';
  };
  const error = await t.throwsAsync(subject.run('k', 'an expression', work), { instanceOf: AbortedError });
  t.is(error?.message, 'still preparing an expression: realising: fetching 2/7 paths (12.0 MiB to download); the work continues, retry to pick up its result');
  t.true(subject.isRunning('k'));
  await t.throwsAsync(subject.run('k', 'an expression', work), { instanceOf: AbortedError });
  gate.resolve();
  t.is(await subject.run('k', 'an expression', work), 'done');
  t.is(runs, 1);
  t.false(subject.isRunning('k'));
});

test('a failure is answered from memory until it expires, then the work runs again', async (t) => {
  const { tracker: subject, clock } = tracker({ realiseWaitMs: 0 });
  let runs = 0;
  const work = async () => {
    runs++;
    throw new FailedPreconditionError(`build failed (run ${runs})`);
  };
  await t.throwsAsync(subject.run('k', 's', work), { message: 'build failed (run 1)' });
  clock.advance(29_000);
  await t.throwsAsync(subject.run('k', 's', work), { message: 'build failed (run 1)' });
  t.is(runs, 1);
  clock.advance(2_000);
  await t.throwsAsync(subject.run('k', 's', work), { message: 'build failed (run 2)' });
  t.is(runs, 2);
  subject.forget('k');
  await t.throwsAsync(subject.run('k', 's', work), { message: 'build failed (run 3)' });
});

test('a failure of work nobody waits for any more is remembered, not thrown as unhandled', async (t) => {
  const { tracker: subject } = tracker();
  const gate = new Deferred();
  let runs = 0;
  const work = async () => {
    runs++;
    await gate.promise;
    throw new FailedPreconditionError('substitution failed');
  };
  await t.throwsAsync(subject.run('k', 's', work), { instanceOf: AbortedError });
  gate.resolve();
  for (let i = 0; i < 10 && subject.isRunning('k'); i++) await new Promise((resolve) => setImmediate(resolve));
  await t.throwsAsync(subject.run('k', 's', work), { message: 'substitution failed' });
  t.is(runs, 1);
});

test('different keys do not share work', async (t) => {
  const { tracker: subject } = tracker({ realiseWaitMs: 0 });
  const results = await Promise.all(['a', 'b'].map((key) => subject.run(key, key, async () => key)));
  t.deepEqual(results, ['a', 'b']);
});

test('a caller with its own deadline waits its own time: ABORTED at its wait, while a caller without one waits as the node says (0: to the end)', async (t) => {
  const { tracker: subject } = tracker({ realiseWaitMs: 0 });
  const gate = new Deferred();
  let runs = 0;
  const work = async () => {
    runs++;
    await gate.promise;
    return 'done';
  };
  const patient = subject.run('k', 'a closure', work);
  const started = Date.now();
  await t.throwsAsync(subject.run('k', 'a closure', work, undefined, { waitMs: 30 }), { instanceOf: AbortedError, message: /^still preparing a closure: .*the work continues/ });
  t.true(Date.now() - started < 5_000);
  t.true(subject.isRunning('k'), 'the work goes on');
  gate.resolve();
  t.is(await patient, 'done');
  t.is(runs, 1);
});
