import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lockStateDir, StateDirInUseError } from '../src/state-dir-lock.js';
import { tempDir } from './helpers/temp.js';

const lockModule = fileURLToPath(new URL('../src/state-dir-lock.js', import.meta.url));

// Waits for a shared instant (so the takers really race), takes the lock, says what it
// got, holds it long enough for every racer to have tried, then lets go.
const TAKER = `
const [modulePath, stateDir, startAt, holdMs] = process.argv.slice(1);
const { lockStateDir, StateDirInUseError } = await import(modulePath);
while (Date.now() < Number(startAt));
try {
  const unlock = await lockStateDir(stateDir);
  console.log('owner');
  await new Promise((resolve) => setTimeout(resolve, Number(holdMs)));
  await unlock();
} catch (error) {
  console.log(error instanceof StateDirInUseError ? 'busy' : 'error ' + error.message);
}
`;

function taker(stateDir: string, startAt: number, holdMs: number): { child: ChildProcess; said: Promise<string> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', TAKER, lockModule, stateDir, String(startAt), String(holdMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const said = new Promise<string>((resolve) => child.once('close', () => resolve(out.trim())));
  return { child, said };
}

async function killedHolder(stateDir: string): Promise<number> {
  const holder = taker(stateDir, 0, 600_000);
  await new Promise<void>((resolve, reject) => {
    holder.child.stdout!.once('data', () => resolve());
    holder.child.once('close', () => reject(new Error('the holder did not take the lock')));
  });
  holder.child.kill('SIGKILL');
  await holder.said;
  return holder.child.pid!;
}

test('takers racing for a SIGKILLed holder’s state dir: exactly one owns it, every other is told it is in use', async (t) => {
  t.timeout(120_000);
  const dir = await tempDir(t);
  const takers = 8;
  for (let round = 0; round < 5; round++) {
    const stateDir = join(dir, `state-${round}`);
    await killedHolder(stateDir);
    const startAt = Date.now() + 1_500;
    const said = await Promise.all(Array.from({ length: takers }, () => taker(stateDir, startAt, 3_000).said));
    t.deepEqual(said.sort(), [...Array<string>(takers - 1).fill('busy'), 'owner'], `round ${round}: ${said.join(', ')}`);
  }
});

test('a live owner keeps the state dir: a second lock is refused with StateDirInUseError, and a released one can be taken', async (t) => {
  const stateDir = join(await tempDir(t), 'state');
  const holder = taker(stateDir, 0, 600_000);
  t.teardown(() => holder.child.kill('SIGKILL'));
  await new Promise<void>((resolve) => holder.child.stdout!.once('data', () => resolve()));
  await t.throwsAsync(lockStateDir(stateDir), { instanceOf: StateDirInUseError, message: new RegExp(`in use by process ${holder.child.pid} `) });
  holder.child.kill('SIGKILL');
  await holder.said;
  const unlock = await lockStateDir(stateDir);
  await unlock();
  t.deepEqual(await readdir(stateDir), ['owner.lock']);
});

test('a start sweeps the .owner.pid.* files whose writer died before renaming one, and only those', async (t) => {
  const stateDir = join(await tempDir(t), 'state');
  const dead = await killedHolder(stateDir);
  const live = spawn('sleep', ['600'], { stdio: 'ignore' });
  t.teardown(() => live.kill('SIGKILL'));
  await mkdir(join(stateDir, 'other'));
  const planted: Record<string, string> = {
    '.owner.pid.0123456789ab': `${dead}\n`, // killed between writing and renaming
    '.owner.pid.aaaaaaaaaaaa': '', // killed before writing its pid
    [`.owner.pid.${'b'.repeat(12)}`]: `${process.pid}\n`, // a dead writer that had this pid (a container's every start)
    '.owner.pid.cccccccccccc': `${live.pid}\n`, // a live writer: not ours to remove
    '.owner.pid.notours': `${dead}\n`, // not a name the lock writes
    '.owner.pid.0123456789abc': `${dead}\n`,
    'other/.owner.pid.dddddddddddd': `${dead}\n`, // not in the state dir itself
  };
  for (const [name, text] of Object.entries(planted)) await writeFile(join(stateDir, name), text);
  const unlock = await lockStateDir(stateDir);
  t.deepEqual((await readdir(stateDir)).sort(), ['.owner.pid.0123456789abc', '.owner.pid.cccccccccccc', '.owner.pid.notours', 'other', 'owner.lock', 'owner.pid']);
  t.deepEqual(await readdir(join(stateDir, 'other')), ['.owner.pid.dddddddddddd']);
  await unlock();
});
