import { spawn } from 'node:child_process';

export interface ChildOutcome {
  /** -1 when the child could not be started or was killed by a signal. */
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * One child with node:child_process alone: the plain case of the process runner
 * (no pipe between two commands, no streamed stderr). execa costs 3–4 ms more per
 * child, which a warm publish — one `mount` — pays in full.
 */
export function spawnChild(
  file: string,
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string | Buffer; timeoutMs: number; maxBuffer: number },
): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      env: options.env ? { ...process.env, ...options.env } : process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    let startError: Error | undefined;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > options.maxBuffer) child.kill('SIGTERM');
      else into.push(chunk);
    };
    child.stdout!.on('data', collect(out));
    child.stderr!.on('data', collect(err));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, options.timeoutMs);
    let done = false;
    const finish = (code: number | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString();
      resolve({
        exitCode: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: startError ? `${stderr}${startError.message}` : stderr,
        timedOut,
      });
    };
    child.once('error', (error) => {
      startError = error;
      if (child.pid === undefined) finish(null); // never started: no 'close' is certain to follow
    });
    if (options.input !== undefined) {
      child.stdin!.on('error', () => undefined); // a child that exits without reading its input
      child.stdin!.end(options.input);
    }
    child.once('close', finish);
  });
}
