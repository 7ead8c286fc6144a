import 'reflect-metadata';
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandFailedError } from '../../src/core/errors.js';
import { NixCliStore } from '../../src/platform/nix-cli-store.js';
import type { ProcessRunner, RunOptions, RunResult } from '../../src/platform/process-runner.js';

const APP = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app';

/** Answers every command with `answer`, recording what it was asked and with which bound. */
class RecordingRunner implements ProcessRunner {
  readonly calls: Array<{ command: string; args: readonly string[]; timeoutMs?: number }> = [];
  constructor(private readonly answer: RunResult) {}
  async run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    this.calls.push({ command, args, timeoutMs: options.timeoutMs });
    return this.answer;
  }
}

function store(runner: ProcessRunner) {
  return new NixCliStore(runner, { storeUri: 'local?root=/srv/nix', connectTimeoutSec: 2 }, {
    driverName: 'd', driverVersion: '0', nodeId: 'n', stateDir: '/state', viewIdleMs: 0,
  });
}

test('every Nix call of the store has its own bound', async (t) => {
  const runner = new RecordingRunner({ exitCode: 0, stdout: '{}', stderr: '' });
  const nix = store(runner);
  await nix.system();
  await nix.queryClosure([APP]);
  await nix.realise([APP], { mayBuild: false });
  // The fake's `{}` is no path info, so closure.json is refused (nothing is written); its path-info call was bounded all the same.
  const view = await mkdtemp(join(tmpdir(), 'nixmount-timeouts-'));
  t.teardown(() => rm(view, { recursive: true, force: true }));
  await t.throwsAsync(nix.writeRegistration({ paths: [APP] }, view, [APP]), { message: /nix path-info --json/ });
  await nix.push('file:///cache', [APP]);
  await nix.check();
  await nix.evaluateExpression('{}', { mayBuild: false }).catch(() => undefined);
  await nix.evaluateFlake('path:/f', { mayBuild: false, refresh: false }).catch(() => undefined);
  t.true(runner.calls.length >= 7);
  for (const call of runner.calls) t.true(typeof call.timeoutMs === 'number' && call.timeoutMs > 0, `${call.command} ${call.args.slice(0, 3).join(' ')}`);
  t.is(runner.calls.find((call) => call.args.includes('path-info'))?.timeoutMs, 120_000);
});

test('a query killed at its bound fails saying so, even where a failure is otherwise an answer', async (t) => {
  const nix = store(new RecordingRunner({ exitCode: -1, stdout: '', stderr: '', timedOut: true }));
  const error = await t.throwsAsync(nix.queryClosure([APP]), { instanceOf: CommandFailedError });
  t.true(error.timedOut);
  t.is(error.message, 'nix path-info timed out after 120 s and was killed');
  const realise = await t.throwsAsync(nix.realise([APP], { mayBuild: false }), { instanceOf: CommandFailedError });
  t.is(realise.message, 'nix-store --realise timed out after 21600 s and was killed');
  const ping = await t.throwsAsync(nix.check(), { instanceOf: CommandFailedError });
  t.is(ping.message, 'nix store ping timed out after 20 s and was killed');
});
