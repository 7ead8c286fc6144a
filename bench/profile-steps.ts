import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readMountInfo } from '../src/platform/mountinfo.js';
import { replaceFile, writeFileAtomic } from '../src/platform/atomic-file.js';
import { ExecaProcessRunner } from '../src/platform/execa-process-runner.js';
import { LinuxMounter } from '../src/platform/linux-mounter.js';
import { MountHelper } from '../src/platform/mount-helper.js';
import type { NodeSettings } from '../src/core/settings.js';
import { buildBigClosure } from './closures.js';
import { BENCH_NIX_ENV, run } from './commands.js';
import { median, timed } from './stats.js';

/**
 * Where a publish's time goes, step by step, each step measured alone with the
 * plugin's own code (its process runner, mountinfo reader, atomic record write),
 * interleaved so a busy machine slows all of them alike. Run:
 *   node dist/bench/profile-steps.js [--mounts N]
 */
const execFileAsync = promisify(execFile);
const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };
const runner = new ExecaProcessRunner(silent);
const ROUNDS = Number(process.env.ROUNDS ?? 15);

async function sample(name: string, work: () => Promise<unknown>, rounds = ROUNDS): Promise<[string, number]> {
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) ms.push((await timed(work)).ms);
  return [name, median(ms)];
}

async function main(): Promise<void> {
  const extraMounts = Number(process.argv[process.argv.indexOf('--mounts') + 1] || 0);
  const dir = await mkdtemp(join(tmpdir(), 'nixmount-profile-'));
  const source = join(dir, 'src');
  await mkdir(source);
  const rows: Array<[string, number]> = [];
  const made: string[] = [];
  let mounter: LinuxMounter | undefined;
  try {
    for (let i = 0; i < extraMounts; i++) {
      const point = join(dir, 'm', String(i));
      await mkdir(point, { recursive: true });
      await run('mount', ['--bind', source, point]);
      made.push(point);
    }
    const table = (await readMountInfo()).length;
    const big = await buildBigClosure();
    let n = 0;
    const target = () => join(dir, `t${n++}`);
    rows.push(await sample('spawn true (execFile)', () => execFileAsync('true')));
    rows.push(await sample('spawn true (plugin runner, under setpriv)', () => runner.run('true', [])));
    rows.push(await sample('mkdir + mount --bind (execFile)', async () => {
      const t = target();
      await mkdir(t);
      await execFileAsync('mount', ['--bind', source, t]);
      made.push(t);
    }));
    rows.push(await sample('mkdir + mount -o bind,ro,nosuid,nodev (plugin runner)', async () => {
      const t = target();
      await mkdir(t);
      await runner.run('mount', ['-o', 'bind,ro,nosuid,nodev', source, t]);
      made.push(t);
    }));
    rows.push(await sample(`read + parse /proc/self/mountinfo (${table}+ entries)`, () => readMountInfo(), 50));
    // The mounter's own proofs at a target holding a bind of a view, and at an empty one.
    const viewMounter = new LinuxMounter(runner, { stateDir: dir } as unknown as NodeSettings, new MountHelper(runner, silent, { helper: 'auto' }));
    mounter = viewMounter;
    const viewNix = join(dir, 'views', 'a'.repeat(32), 'nix');
    await mkdir(viewNix, { recursive: true });
    const bound = target();
    await mkdir(bound);
    await viewMounter.bindReadOnly(viewNix, bound);
    made.push(bound);
    const empty = target();
    await mkdir(empty);
    rows.push(await sample('mkdir + viewMounter.bindReadOnly(view): one mount from the kept read-only bind + proof', async () => {
      const t = target();
      await mkdir(t);
      await viewMounter.bindReadOnly(viewNix, t);
      made.push(t);
    }));
    rows.push(await sample('viewMounter.mountsAt(view bind) — whole table', () => viewMounter.mountsAt(bound), 50));
    rows.push(await sample('viewMounter.topAt(view bind) — mount id + inode', () => viewMounter.topAt(bound), 50));
    rows.push(await sample('viewMounter.topAt(no mount) — mount id', () => viewMounter.topAt(empty), 50));
    rows.push(await sample('viewMounter.ownMounts() — whole table', () => viewMounter.ownMounts(), 50));
    rows.push(await sample('record write (temp, fsync, rename, dir fsync)', () => writeFileAtomic(join(dir, 'record.json'), '{"x":1}\n'), 30));
    rows.push(await sample('record in place (temp, rename): what a publish waits for before its mount', async () => {
      const { durable } = await replaceFile(join(dir, 'record.json'), '{"x":1}\n');
      return durable;
    }, 30));
    rows.push(await sample('nix-store --version', () => runner.run('nix-store', ['--version'], { env: { NIX_CONFIG: BENCH_NIX_ENV.NIX_CONFIG! } })));
    rows.push(await sample(`nix-store --query --requisites (${big.paths.length} paths)`, () =>
      runner.run('nix-store', ['--query', '--requisites', big.root], { env: { NIX_CONFIG: BENCH_NIX_ENV.NIX_CONFIG! } })));
    rows.push(await sample(`dump-db | load-db (${big.paths.length} paths)`, async () => {
      const root = join(dir, `db${n++}`);
      await runner.run('nix-store', ['--store', `local?root=${root}`, '--load-db'], {
        env: { NIX_CONFIG: BENCH_NIX_ENV.NIX_CONFIG! },
        pipeFrom: [{ command: 'nix-store', args: ['--dump-db', ...big.paths] }],
      });
      await rm(root, { recursive: true, force: true });
    }, 7));
    rows.push(await sample(`cp -al (${big.files} files)`, async () => {
      const store = join(dir, `cp${n++}`, 'nix/store');
      await mkdir(store, { recursive: true });
      const { ms } = await timed(() => run('cp', ['-al', ...big.paths, store]));
      await rm(join(store, '../..'), { recursive: true, force: true });
      return ms;
    }, 7));
    console.log(`profile of publish steps, medians (mount table: ${table} entries)`);
    for (const [name, ms] of rows) console.log(`${ms.toFixed(2).padStart(9)} ms  ${name}`);
  } finally {
    await mounter?.sweep().catch(() => undefined); // the read-only binds it keeps in <dir>/.mounting
    for (const point of made.reverse()) await execFileAsync('umount', ['-l', point]).catch(() => undefined);
    for (const point of made) await rmdir(point).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
