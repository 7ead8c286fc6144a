import 'reflect-metadata';
import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecaProcessRunner } from '../../src/platform/execa-process-runner.js';
import { NixCliStore } from '../../src/platform/nix-cli-store.js';
import { PathInfoRegistration, parsePathInfos } from '../../src/platform/nix-registrations.js';
import type { ProcessRunner } from '../../src/platform/process-runner.js';
import { silentLogger } from '../helpers/fakes.js';
import { buildFixture, FIXTURES } from '../helpers/nix.js';
import { offlineNixEnv } from '../../support/nix-env.js';

// A view's database is written from what `nix path-info --json --recursive` said of the
// closure: it must hold exactly what `nix-store --dump-db | --load-db` would have copied.

const A = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a';
const B = '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b';

test('both JSON shapes of path-info (an array, an object keyed by path) give the closure and the --load-db lines', (t) => {
  const infos = [
    { path: B, narHash: 'sha256-b/eF9p0RcG5n0V5zZU+KczRvfkawNCVofwSr1uALKao=', narSize: 568, references: [A], deriver: `${B}.drv`, registrationTime: 1 },
    { path: A, narHash: 'sha256:0v6l4s5xwnywvj2q7xg9vz2c8l6x5wqyq1vj0y3kq9d6w0h0a1c2', narSize: 8, references: [] },
  ];
  for (const json of [JSON.stringify(infos), JSON.stringify(Object.fromEntries(infos.map(({ path, ...info }) => [path, info])))]) {
    const registrations = new PathInfoRegistration(parsePathInfos(json)!);
    t.deepEqual(registrations.paths(), [A, B]);
    t.is(registrations.loadDbInput([A, B]), `${A}\n${infos[1]!.narHash}\n8\n\n0\n${B}\n${infos[0]!.narHash}\n568\n${B}.drv\n1\n${A}\n`);
    t.is(registrations.loadDbInput([A, '/nix/store/cccccccccccccccccccccccccccccccc-c']), undefined, 'one path not known: none');
  }
});

test('anything else is not taken: the caller asks the older way', (t) => {
  const good = { path: A, narHash: 'sha256-AAAA', narSize: 1, references: [] };
  for (const json of [
    'not json',
    '[]',
    '{}',
    JSON.stringify({ [A]: null }), // a later Nix's answer for an invalid path
    JSON.stringify([{ ...good, references: ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a'] }]), // base names
    JSON.stringify([{ ...good, path: `${A}\n${B}` }]),
    JSON.stringify([{ ...good, narHash: 'sha256-AA\nAA' }]),
    JSON.stringify([{ ...good, narSize: '1' }]),
    JSON.stringify([{ ...good, deriver: 'x.drv' }]),
  ]) {
    t.is(parsePathInfos(json), undefined, json);
  }
});

test('a real closure: the view database written from path-info equals the one --dump-db | --load-db writes', async (t) => {
  const fixture = await buildFixture('registrations');
  const dir = await mkdtemp(join(tmpdir(), 'nixmount-registrations-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const env = { NIX_CONFIG: `${offlineNixEnv.NIX_CONFIG}\ngc-reserved-space = 0` };
  const info = await execa('nix', ['path-info', '--json', '--recursive', fixture.root], { env });
  const registrations = new PathInfoRegistration(parsePathInfos(info.stdout)!);
  const closure = registrations.paths();
  t.deepEqual(closure, [...fixture.closure].sort());
  await execa('nix-store', ['--store', `local?root=${dir}/ours`, '--load-db'], { env, input: registrations.loadDbInput(closure)! });
  const dumped = await execa('nix-store', ['--dump-db', ...closure], { env, stripFinalNewline: false });
  await execa('nix-store', ['--store', `local?root=${dir}/theirs`, '--load-db'], { env, input: dumped.stdout });
  const ours = await execa('nix-store', ['--store', `local?root=${dir}/ours`, '--dump-db', ...closure], { env });
  const theirs = await execa('nix-store', ['--store', `local?root=${dir}/theirs`, '--dump-db', ...closure], { env });
  t.is(ours.stdout, theirs.stdout);
  t.is(`${ours.stdout}\n`, dumped.stdout);
});

test('the store writes a queried closure\'s registration with one --load-db, and falls back to --dump-db | --load-db when Nix refuses it', async (t) => {
  const infos = [{ path: A, narHash: 'sha256-AAAA', narSize: 1, references: [] }];
  // Nix is faked, the view's closure.json is not: it goes to a temp dir.
  const dir = await mkdtemp(join(tmpdir(), 'nixmount-registrations-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const refuse of [false, true]) {
    const calls: Array<{ command: string; args: readonly string[]; input?: boolean; pipeFrom?: string }> = [];
    const runner: ProcessRunner = {
      async run(command, args, options = {}) {
        calls.push({ command, args, input: options.input !== undefined, pipeFrom: options.pipeFrom?.[0]?.args.find((arg) => arg.startsWith('--dump')) });
        const failed = refuse && args.includes('--load-db') && options.input !== undefined;
        return { exitCode: failed ? 1 : 0, stdout: args.includes('path-info') ? JSON.stringify(infos) : '', stderr: failed ? 'error: bad hash' : '' };
      },
    };
    const nix = new NixCliStore(runner, { storeUri: '', connectTimeoutSec: 2 }, { driverName: 'd', driverVersion: '0', nodeId: 'n', stateDir: '/state', viewIdleMs: 0 });
    const answer = await nix.queryClosure([A]);
    if (!answer.valid) return t.fail('the closure is valid');
    t.deepEqual(answer.closure.paths, [A]);
    t.is(answer.closure.registration?.size, 1);
    const view = join(dir, `view-${refuse}`);
    await nix.writeRegistration(answer.closure, view, [A]);
    t.deepEqual(JSON.parse(await readFile(join(view, 'nix/var/nixmount/closure.json'), 'utf8')).paths, [{ ...infos[0], deriver: null, signatures: [], origin: 'node-store' }]);
    const writes = calls.filter((call) => call.args.includes('--load-db')).map((call) => (call.input ? 'load-db from path-info' : `load-db from ${call.pipeFrom}`));
    t.deepEqual(writes, refuse ? ['load-db from path-info', 'load-db from --dump-db'] : ['load-db from path-info']);
    t.is(calls.filter((call) => call.args.includes('--requisites')).length, 0, 'no second query');
  }
});

test('the registration travels with the closure, not in the store: another store object writes it with one --load-db, and bare paths take the older way', async (t) => {
  const infos = [{ path: A, narHash: 'sha256-AAAA', narSize: 1, references: [] }];
  const dir = await mkdtemp(join(tmpdir(), 'nixmount-registrations-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const loads: string[] = [];
  const runner: ProcessRunner = {
    async run(_command, args, options = {}) {
      if (args.includes('--load-db')) loads.push(options.input !== undefined ? 'from path-info' : `from ${options.pipeFrom?.length} --dump-db`);
      return { exitCode: 0, stdout: args.includes('path-info') ? JSON.stringify(infos) : '', stderr: '' };
    },
  };
  const node = { driverName: 'd', driverVersion: '0', nodeId: 'n', stateDir: '/state', viewIdleMs: 0 };
  const asked = new NixCliStore(runner, { storeUri: '', connectTimeoutSec: 2 }, node);
  const answer = await asked.queryClosure([A]);
  if (!answer.valid) return t.fail('the closure is valid');
  // What the query read is in the answer: a store that never saw the query registers it the fast way.
  await new NixCliStore(runner, { storeUri: '', connectTimeoutSec: 2 }, node).writeRegistration(answer.closure, join(dir, 'carried'), [A]);
  t.deepEqual(loads, ['from path-info']);
  // And the store that asked keeps nothing: the same paths without their registration are asked again.
  await asked.writeRegistration({ paths: [A] }, join(dir, 'bare'), [A]);
  t.deepEqual(loads, ['from path-info', 'from 1 --dump-db']);
  // A registration that does not describe every path is not used.
  await asked.writeRegistration({ paths: [A, B], registration: answer.closure.registration! }, join(dir, 'partial'), [A]).catch(() => undefined);
  t.is(loads.at(-1), 'from 1 --dump-db');
});

test('the older way registers a closure of 1,501 paths whose references cross every batch, with one --load-db', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nixmount-dumpdb-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // Rooted (indirectly, from the temp dir) while the test runs: a store GC elsewhere must not take it.
  const instantiate = ['--arg', 'count', '1500', '--argstr', 'salt', `-older-${process.pid}`, '--add-root', join(dir, 'drv'), '--indirect'];
  const { stdout } = await execa('nix-instantiate', [`${FIXTURES}many-inputs.nix`, ...instantiate], { env: offlineNixEnv });
  const drv = (await execa('readlink', [stdout.trim()])).stdout.trim();
  const closure = (await execa('nix-store', ['-qR', drv], { env: offlineNixEnv })).stdout.trim().split('\n').sort();
  await mkdir(join(dir, 'view'), { recursive: true });
  const loads: string[] = [];
  const real = new ExecaProcessRunner(silentLogger);
  const runner: ProcessRunner = {
    run(command, args, options) {
      if (args.includes('--load-db')) loads.push(options?.input !== undefined ? 'from path-info' : `from ${options?.pipeFrom?.length} --dump-db`);
      return real.run(command, args, options);
    },
  };
  const nix = new NixCliStore(runner, { storeUri: '', connectTimeoutSec: 2 }, { driverName: 'd', driverVersion: '0', nodeId: 'n', stateDir: '/state', viewIdleMs: 0 });
  // Nix reads a .drv's file while registering it, as it would the view's hardlink.
  await mkdir(join(dir, 'view/nix/store'), { recursive: true });
  await execa('cp', ['-a', ...closure, join(dir, 'view/nix/store')]);
  // No registration comes with the paths, so the older way is taken.
  await nix.writeRegistration({ paths: closure }, join(dir, 'view'), [drv]);
  t.deepEqual(loads, ['from 2 --dump-db']);
  const env = { NIX_CONFIG: `${offlineNixEnv.NIX_CONFIG}\ngc-reserved-space = 0` };
  const registered = await execa('nix-store', ['--store', `local?root=${join(dir, 'view')}`, '-qR', drv], { env });
  t.deepEqual(registered.stdout.trim().split('\n').sort(), closure);
});

test('a failing --dump-db fails the registration naming it, and the --load-db commits nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nixmount-dumpdb-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const runner = new ExecaProcessRunner(silentLogger);
  // Rooted for the test's length: a store GC elsewhere on the machine must not take the valid source's path.
  const built = await execa('nix-build', [`${FIXTURES}closure.nix`, '--argstr', 'salt', '-dump-fail', '--out-link', join(dir, 'result')], { env: offlineNixEnv });
  const root = built.stdout.trim();
  const viewDir = join(dir, 'view');
  const error = await t.throwsAsync(
    runner.run('nix-store', ['--store', `local?root=${viewDir}`, '--load-db'], {
      env: offlineNixEnv,
      pipeFrom: [{ command: 'nix-store', args: ['--dump-db', root] }, { command: 'nix-store', args: ['--dump-db', B] }],
    }),
  );
  t.regex(error!.message, /nix-store --dump-db .*bbbb/);
  const listed = await execa('nix-store', ['--store', `local?root=${viewDir}`, '--check-validity', '--print-invalid', root], { env: { NIX_CONFIG: `${offlineNixEnv.NIX_CONFIG}\ngc-reserved-space = 0` }, reject: false });
  t.is(listed.stdout.trim(), root, 'the first source\'s paths were not committed');
});
