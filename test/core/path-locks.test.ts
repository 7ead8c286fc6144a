import test from 'ava';
import { AbortedError, UnavailableError } from '../../src/core/errors.js';
import { mountClaims } from '../../src/core/mount-claims.js';
import { PathLocks } from '../../src/core/path-locks.js';
import { Deferred } from '../helpers/fakes.js';

const held = (locks: PathLocks, claim: Parameters<PathLocks['run']>[0], name: string) => {
  const gate = new Deferred();
  const done = locks.run(claim, name, 'refuse', () => gate.promise);
  return { release: () => gate.resolve(), done };
};

test('a path held alone refuses (ABORTED, naming the holder) every other claim on it; other paths proceed', async (t) => {
  const locks = new PathLocks();
  const first = held(locks, mountClaims.publish('/t/a'), 'publish of volume "v"');
  await t.throwsAsync(locks.run(mountClaims.unpublish('/t/a'), 'unpublish', 'refuse', async () => undefined), {
    instanceOf: AbortedError,
    message: 'an operation (publish of volume "v") is already in progress on this path; retry later',
  });
  await t.throwsAsync(locks.run(mountClaims.publish('/t/b', '/t/a'), 'publish from it', 'refuse', async () => undefined), { instanceOf: AbortedError });
  t.is(await locks.run(mountClaims.publish('/t/b'), 'other', 'refuse', async () => 'ok'), 'ok');
  first.release();
  await first.done;
  t.is(await locks.run(mountClaims.unpublish('/t/a'), 'unpublish', 'refuse', async () => 'free'), 'free');
});

test('publishes from one staging path share it; its stage and unstage exclude them, and they it', async (t) => {
  const locks = new PathLocks();
  const a = held(locks, mountClaims.publish('/t/1', '/s'), 'publish 1');
  const b = held(locks, mountClaims.publish('/t/2', '/s'), 'publish 2');
  await t.throwsAsync(locks.run(mountClaims.unstage('/s'), 'unstage', 'refuse', async () => undefined), { instanceOf: AbortedError, message: /publish [12]/ });
  a.release();
  await a.done;
  await t.throwsAsync(locks.run(mountClaims.stage('/s'), 'stage', 'refuse', async () => undefined), { instanceOf: AbortedError, message: /publish 2/ });
  b.release();
  await b.done;
  const unstage = held(locks, mountClaims.unstage('/s'), 'unstage');
  await t.throwsAsync(locks.run(mountClaims.publish('/t/3', '/s'), 'publish 3', 'refuse', async () => undefined), { instanceOf: AbortedError, message: /unstage/ });
  unstage.release();
  await unstage.done;
});

test('a waiting caller runs when the path is free, in arrival order; a wait that runs out is UNAVAILABLE and leaves the queue', async (t) => {
  const locks = new PathLocks();
  const order: string[] = [];
  const first = held(locks, mountClaims.publish('/t/a'), 'create 1');
  const waiting = [2, 3, 4].map((n) => locks.run(mountClaims.publish('/t/a'), `create ${n}`, { waitMs: 5_000 }, async () => {
    order.push(`create ${n}`);
  }));
  // A refusing caller does not overtake the queue.
  await t.throwsAsync(locks.run(mountClaims.unpublish('/t/a'), 'unpublish', 'refuse', async () => undefined), { instanceOf: AbortedError });
  const late = locks.run(mountClaims.unpublish('/t/late'), 'unrelated', { waitMs: 5_000 }, async () => 'not queued behind /t/a');
  t.is(await late, 'not queued behind /t/a');
  first.release();
  await Promise.all(waiting);
  t.deepEqual(order, ['create 2', 'create 3', 'create 4']);

  const blocker = held(locks, mountClaims.unpublish('/t/a'), 'delete 1');
  const started = Date.now();
  await t.throwsAsync(locks.run(mountClaims.publish('/t/a'), 'create 5', { waitMs: 200 }, async () => undefined), {
    instanceOf: UnavailableError,
    message: 'another operation (delete 1) on this path did not finish within 1 s; retry later',
  });
  t.true(Date.now() - started >= 190);
  blocker.release();
  await blocker.done;
  t.is(await locks.run(mountClaims.publish('/t/a'), 'create 6', 'refuse', async () => 'free'), 'free', 'the timed-out waiter left no trace');
});
