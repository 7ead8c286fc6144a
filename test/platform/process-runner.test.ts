import test from 'ava';
import { execa } from 'execa';
import { ExecaProcessRunner } from '../../src/platform/execa-process-runner.js';
import { RecordingLogger } from '../helpers/recording-logger.js';

// The runner starts every external command of the plugin; a child it cannot start must
// be an error of that call, never the end of the plugin.

const runnerUrl = new URL('../../src/platform/execa-process-runner.js', import.meta.url).href;

test('a command piped into another, and stderr line by line: the whole fails when either side does', async (t) => {
  const runner = new ExecaProcessRunner(new RecordingLogger());
  const piped = await runner.run('tr', ['a-z', 'A-Z'], { pipeFrom: [{ command: 'printf', args: ['one\\ntwo\\n'] }] });
  t.is(piped.stdout, 'ONE\nTWO\n');
  const failing = await runner.run('cat', [], { pipeFrom: [{ command: 'sh', args: ['-c', 'echo partial; echo broken >&2; exit 3'] }], allowFailure: true });
  t.is(failing.exitCode, 3);
  // The consumer is stopped when its source fails (it must not commit a partial input).
  t.regex(failing.stderr, /broken/);
  const lines: string[] = [];
  await runner.run('sh', ['-c', 'echo first >&2; echo second >&2'], { onStderrLine: (line) => lines.push(line) });
  t.deepEqual(lines, ['first', 'second']);
});

test('out of file descriptors, every kind of run is a ResourceExhausted error and the process lives on; freed, it runs again', async (t) => {
  // Its own process with a low limit: exhausting this test process' descriptors would break ava.
  const script = `
    import { openSync, closeSync } from 'node:fs';
    const { ExecaProcessRunner } = await import(${JSON.stringify(runnerUrl)});
    const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };
    const runner = new ExecaProcessRunner(silent);
    const fds = [];
    try { for (;;) fds.push(openSync('/dev/null', 'r')); } catch {}
    const outcome = (promise) => promise.then((r) => ({ ok: r.exitCode }), (e) => ({ kind: e.kind, message: e.message }));
    const results = {
      plain: await outcome(runner.run('true', [])),
      allowFailure: await outcome(runner.run('true', [], { allowFailure: true })),
      input: await outcome(runner.run('cat', [], { input: 'x' })),
      lines: await outcome(runner.run('true', [], { onStderrLine: () => undefined })),
      piped: await outcome(runner.run('cat', [], { pipeFrom: [{ command: 'true', args: [] }] })),
    };
    await new Promise((resolve) => setTimeout(resolve, 100)); // any unheard 'error' event would end the process here
    for (const fd of fds) closeSync(fd);
    results.freed = await outcome(runner.run('true', []));
    console.log(JSON.stringify(results));
  `;
  const child = await execa('prlimit', ['--nofile=64', '--', process.execPath, '--input-type=module', '-e', script], { reject: false });
  t.is(child.exitCode, 0, child.stderr);
  const results = JSON.parse(child.stdout) as Record<string, { kind?: string; message?: string; ok?: number }>;
  for (const name of ['plain', 'allowFailure', 'input', 'lines', 'piped']) {
    t.is(results[name]!.kind, 'ResourceExhausted', `${name}: ${JSON.stringify(results[name])}`);
    t.regex(results[name]!.message!, /^cannot start \S+.*: the plugin has too many open files \(EMFILE\); retry later$/, name);
  }
  t.deepEqual(results.freed, { ok: 0 });
});
