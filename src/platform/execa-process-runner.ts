import { inject, injectable } from 'inversify';
import { CommandFailedError, ResourceExhaustedError } from '../core/errors.js';
import { Logger } from '../core/ports/logger.js';
import { onPath } from './on-path.js';
import type { ProcessRunner, RunOptions, RunResult } from './process-runner.js';
import { spawnChild, type ChildOutcome } from './spawn-child.js';

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

/**
 * util-linux's setpriv, when the node has it: every child is started with a parent-death
 * signal, so a plugin killed with SIGKILL (an OOM kill) takes its cp, nix and mount
 * children with it, instead of leaving them writing into a view the next start sweeps.
 */
const SETPRIV = onPath('setpriv');

/**
 * Why a child could not be started that says the node (or the plugin) is out of
 * something, not that the command is wrong: the caller may retry once some is freed.
 */
const EXHAUSTED: Record<string, string> = {
  EMFILE: 'the plugin has too many open files',
  ENFILE: 'the system has too many open files',
  EAGAIN: 'the system cannot start another process',
  ENOMEM: 'out of memory',
};

function dyingWithUs(command: string, args: readonly string[]): [string, string[]] {
  return SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, [...args]];
}

function redact(text: string, secrets: readonly string[] | undefined): string {
  let out = text;
  for (const secret of secrets ?? []) if (secret) out = out.split(secret).join('***');
  return out;
}

/**
 * Every external command of nixmount runs here: timeouts, logging, redaction, one error
 * type. Children are started by spawnChild (node:child_process), not execa, which cannot
 * survive a spawn that fails for lack of file descriptors.
 */
@injectable()
export class ExecaProcessRunner implements ProcessRunner {
  constructor(@inject(Logger) private readonly log: Logger) {}

  async run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const shown = redact([command, ...args].join(' '), options.redact);
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const result = await spawnChild(...dyingWithUs(command, args), {
      env: options.env,
      input: options.input,
      timeoutMs,
      maxBuffer: 256 * 1024 * 1024,
      ...(options.onStderrLine ? { onStderrLine: (line: string) => options.onStderrLine?.(redact(line, options.redact)) } : {}),
      ...(options.pipeFrom ? { pipeFrom: options.pipeFrom.map((source) => dyingWithUs(source.command, source.args)).map(([file, args]) => ({ file, args })) } : {}),
    });
    // A failed source is the error's subject: its own command and what it said.
    const failed = result.failedSource === undefined ? undefined : options.pipeFrom?.[result.failedSource];
    const subject = failed ? redact([failed.command, ...failed.args].join(' '), options.redact) : shown;
    return this.finish(subject, started, { ...result, stderr: redact(result.stderr, options.redact) }, options, timeoutMs);
  }

  private finish(shown: string, started: number, result: ChildOutcome, options: RunOptions, timeoutMs: number): RunResult {
    const { exitCode, stdout, stderr } = result;
    this.log.debug({ command: shown, exitCode, ms: Date.now() - started }, 'command finished');
    const short = shown.split(' ').slice(0, 3).join(' ');
    const code = result.startError?.code;
    // Even with allowFailure: the command never ran, so there is no answer to read a failure from.
    if (code !== undefined && EXHAUSTED[code]) {
      this.log.warn({ command: short, code }, 'cannot start a command: out of resources');
      throw new ResourceExhaustedError(`cannot start ${short}: ${EXHAUSTED[code]} (${code}); retry later`, { cause: result.startError });
    }
    if ((exitCode !== 0 || result.timedOut) && !options.allowFailure) {
      throw new CommandFailedError(short, exitCode === -1 ? undefined : exitCode, stderr, {
        timedOut: result.timedOut,
        timeoutMs: result.timedOut ? timeoutMs : undefined,
      });
    }
    return { exitCode, stdout, stderr, ...(result.timedOut ? { timedOut: true } : {}) };
  }
}
