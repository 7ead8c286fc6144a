import test from 'ava';
import { SingleFlight } from '../../src/platform/single-flight.js';

test('identical queries in flight together run once; a later one runs again', async (t) => {
  const flight = new SingleFlight<number>();
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const query = async () => {
    runs++;
    await gate;
    return runs;
  };
  const together = [flight.run('k', query), flight.run('k', query), flight.run('other', query)];
  release();
  t.deepEqual(await Promise.all(together), [2, 2, 2]);
  t.is(runs, 2);
  t.is(await flight.run('k', query), 3);
});

test('a failed query fails every caller that shared it, and is not kept', async (t) => {
  const flight = new SingleFlight<number>();
  const failing = () => Promise.reject(new Error('nix said no'));
  const both = [flight.run('k', failing), flight.run('k', failing)];
  for (const call of both) await t.throwsAsync(call, { message: 'nix said no' });
  t.is(await flight.run('k', async () => 7), 7);
});
