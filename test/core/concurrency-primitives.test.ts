import test from 'ava';
import { AbortedError } from '../../src/core/errors.js';
import { InFlightGuard } from '../../src/core/in-flight-guard.js';
import { KeyedMutex } from '../../src/core/keyed-mutex.js';

test('InFlightGuard refuses a second operation on a busy key with ABORTED, others run', async (t) => {
  const guard = new InFlightGuard();
  let release!: () => void;
  const first = guard.run('v1', 'NodePublishVolume', () => new Promise<void>((resolve) => (release = resolve)));
  await t.throwsAsync(guard.run('v1', 'NodeUnpublishVolume', async () => undefined), { instanceOf: AbortedError, message: /NodePublishVolume/ });
  t.is(await guard.run('v2', 'NodePublishVolume', async () => 'ok'), 'ok');
  release();
  await first;
  t.is(await guard.run('v1', 'NodeUnpublishVolume', async () => 'free again'), 'free again');
});

test('KeyedMutex runs tasks of one key in order, even after a failure', async (t) => {
  const mutex = new KeyedMutex();
  const order: string[] = [];
  const slow = mutex.run('k', async () => {
    await new Promise((r) => setTimeout(r, 20));
    order.push('a');
    throw new Error('a failed');
  });
  const next = mutex.run('k', async () => order.push('b'));
  const other = mutex.run('other', async () => order.push('x'));
  await t.throwsAsync(slow);
  await next;
  await other;
  t.deepEqual(order, ['x', 'a', 'b']);
});
