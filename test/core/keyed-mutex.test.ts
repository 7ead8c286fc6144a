import test from 'ava';
import { KeyedMutex } from '../../src/core/keyed-mutex.js';

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
