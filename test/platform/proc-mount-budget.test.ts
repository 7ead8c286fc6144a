import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProcMountBudget } from '../../src/platform/proc-mount-budget.js';
import { tempDir } from '../helpers/temp.js';

const budgetAt = (mountMaxFile: string) => new ProcMountBudget({ mountMaxFile } as ConstructorParameters<typeof ProcMountBudget>[0]);
const tableLines = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter(Boolean).length;

test('the limit comes from the mount-max file and the use from this namespace\'s table; an unreadable limit is Linux\'s default', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'mount-max'), '12345\n');
  const count = await budgetAt(join(dir, 'mount-max')).count();
  t.is(count.max, 12_345);
  t.is(count.used, await tableLines());
  t.is((await budgetAt(join(dir, 'missing')).count()).max, 100_000);
});

test('claims count at once, also in a reading taken before them, and a settled claim still counts in that reading', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'mount-max'), '100000\n');
  const budget = budgetAt(join(dir, 'mount-max'));
  const base = (await budget.count()).used;
  const first = budget.claim(605);
  const second = budget.claim(202);
  t.is((await budget.count()).used, base + 807, 'the reused reading cannot see the claimed mounts; the claims are added');
  first();
  first();
  t.is((await budget.count()).used, base + 807, 'settled, once, but the reading in use is older than the mounts');
  second();
  t.is((await budget.count()).used, base + 807);
});
