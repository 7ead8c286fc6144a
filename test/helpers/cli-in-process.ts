import { reportFailure, runCommandLine } from '../../src/cli/command-line-run.js';
import { offlineNixEnv } from '../../support/nix-env.js';

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

type Write = typeof process.stdout.write;

let previous: Promise<unknown> = Promise.resolve();

/**
 * Runs `nixmount ARGS` in this process, the way src/cli.ts runs it, and answers what
 * `nixmount()` of serve-process.ts answers for the real process (the exit status, and
 * stdout and stderr without their final newline). A new Node process costs about a
 * second on a busy 2-core machine; what a command prints and its status need none.
 * The capture replaces this process's own streams, so calls run one at a time.
 */
export function nixmountInProcess(args: string[], options: { env?: Record<string, string> } = {}): Promise<CliResult> {
  const run = previous.then(() => captured(args, { ...process.env, ...offlineNixEnv, ...options.env }));
  previous = run.catch(() => undefined);
  return run;
}

async function captured(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const output = { stdout: '', stderr: '' };
  const writes: Array<[NodeJS.WriteStream, Write]> = [
    [process.stdout, process.stdout.write],
    [process.stderr, process.stderr.write],
  ];
  for (const [stream] of writes) {
    const name = stream === process.stdout ? 'stdout' : 'stderr';
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      output[name] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      const callback = rest.find((arg): arg is () => void => typeof arg === 'function');
      callback?.();
      return true;
    }) as Write;
  }
  let exitCode: number;
  try {
    exitCode = await runCommandLine(args, env).catch(reportFailure);
  } finally {
    for (const [stream, write] of writes) stream.write = write;
  }
  return { exitCode, stdout: output.stdout.replace(/\r?\n$/, ''), stderr: output.stderr.replace(/\r?\n$/, '') };
}
