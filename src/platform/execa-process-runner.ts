import { execa, type ResultPromise } from 'execa';
import { inject, injectable } from 'inversify';
import { CommandFailedError } from '../core/errors.js';
import { Logger } from '../core/ports/logger.js';
import { onPath } from './on-path.js';
import type { ProcessRunner, RunOptions, RunResult } from './process-runner.js';
import { runPipeChain } from './pipe-chain.js';
import { spawnChild } from './spawn-child.js';

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

/**
 * util-linux's setpriv, when the node has it: every child is started with a parent-death
 * signal, so a plugin killed with SIGKILL (an OOM kill) takes its cp, nix and mount
 * children with it, instead of leaving them writing into a view the next start sweeps.
 */
const SETPRIV = onPath('setpriv');

function dyingWithUs(command: string, args: readonly string[]): [string, string[]] {
  return SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, [...args]];
}

function redact(text: string, secrets: readonly string[] | undefined): string {
  let out = text;
  for (const secret of secrets ?? []) if (secret) out = out.split(secret).join('***');
  return out;
}

/** Every external command of nixmount runs here: timeouts, logging, redaction, one error type. */
@injectable()
export class ExecaProcessRunner implements ProcessRunner {
  constructor(@inject(Logger) private readonly log: Logger) {}

  async run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const shown = redact([command, ...args].join(' '), options.redact);
    const started = Date.now();
    const common = {
      reject: false,
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      env: options.env,
      stripFinalNewline: false,
      maxBuffer: 256 * 1024 * 1024,
    } as const;
    let child: ResultPromise;
    if (!options.pipeFrom && !options.onStderrLine) {
      // The plain case (mount, umount, cp, one Nix query) skips execa's per-child cost.
      const result = await spawnChild(...dyingWithUs(command, args), { ...common, env: options.env, input: options.input, timeoutMs: common.timeout });
      return this.finish(shown, started, { ...result, stderr: redact(result.stderr, options.redact) }, options);
    }
    if (options.pipeFrom) {
      const sources = options.pipeFrom.map((source) => dyingWithUs(source.command, source.args));
      const result = await runPipeChain(dyingWithUs(command, args), sources, common);
      // A failed source is the error's subject: its own command and what it said.
      const failed = result.failedSource === undefined ? undefined : options.pipeFrom[result.failedSource];
      const subject = failed ? redact([failed.command, ...failed.args].join(' '), options.redact) : shown;
      return this.finish(subject, started, { ...result, stderr: redact(result.stderr, options.redact) }, options);
    }
    child = execa(...dyingWithUs(command, args), { ...common, input: options.input });
    if (options.onStderrLine && child.stderr) {
      let pending = '';
      child.stderr.on('data', (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) options.onStderrLine?.(redact(line, options.redact));
      });
    }
    const result = await child;
    const stderr = redact(String(result.stderr ?? ''), options.redact);
    return this.finish(shown, started, { exitCode: result.exitCode ?? -1, stdout: String(result.stdout ?? ''), stderr, timedOut: Boolean(result.timedOut) }, options);
  }

  private finish(shown: string, started: number, result: RunResult & { timedOut: boolean }, options: RunOptions): RunResult {
    const { exitCode, stdout, stderr } = result;
    this.log.debug({ command: shown, exitCode, ms: Date.now() - started }, 'command finished');
    if ((exitCode !== 0 || result.timedOut) && !options.allowFailure) {
      throw new CommandFailedError(shown.split(' ').slice(0, 3).join(' '), exitCode === -1 ? undefined : exitCode, stderr, {
        timedOut: result.timedOut,
        timeoutMs: result.timedOut ? (options.timeoutMs ?? DEFAULT_TIMEOUT_MS) : undefined,
      });
    }
    return { exitCode, stdout, stderr, ...(result.timedOut ? { timedOut: true } : {}) };
  }
}
