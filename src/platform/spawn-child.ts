import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

export interface ChildOutcome {
  /** -1 when the child could not be started or was killed by a signal. */
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Why the child (or a command piped into it) could not be started (EMFILE, ENOENT, …): then nothing ran. */
  startError?: NodeJS.ErrnoException;
  /** Which `pipeFrom` source failed, when one did: its command is the failure's subject. */
  failedSource?: number;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  input?: string | Buffer;
  timeoutMs: number;
  maxBuffer: number;
  /** Called with each stderr line as it arrives. */
  onStderrLine?: (line: string) => void;
  /**
   * Commands whose stdouts, one after another, become this one's stdin (input too long
   * for one source's argument list). A source that fails stops the consumer before it
   * can commit what it read, and fails the whole (as `set -o pipefail`).
   */
  pipeFrom?: ReadonlyArray<{ file: string; args: readonly string[] }>;
}

interface Started {
  child?: ChildProcess;
  error?: NodeJS.ErrnoException;
  /** The exit code, null for a signal or a child that never started. */
  closed: Promise<number | null>;
}

/**
 * Starts one child with its `error` listener attached before anything else. A spawn
 * that fails for lack of resources (EMFILE, ENFILE, EAGAIN) gives a child without
 * streams and an `error` event: touching a stream first throws, and an `error` event
 * nobody listens to ends the whole plugin. Some failures (ENOMEM) throw at once instead.
 */
function start(file: string, args: readonly string[], stdio: StdioOptions, env: NodeJS.ProcessEnv): Started {
  let child: ChildProcess;
  try {
    child = spawn(file, args, { env, stdio });
  } catch (error) {
    return { error: error as NodeJS.ErrnoException, closed: Promise.resolve(null) };
  }
  const started: Started = { child, closed: Promise.resolve(null) };
  started.closed = new Promise((resolve) => {
    // `on`, not `once`: a later error (a failed kill) must find a listener too.
    child.on('error', (error: NodeJS.ErrnoException) => {
      started.error ??= error;
      if (child.pid === undefined) resolve(null); // never started: no 'close' is certain to follow
    });
    child.once('close', (code) => resolve(code));
  });
  return started;
}

/**
 * Children with node:child_process alone: execa costs 3–4 ms more per child, which a
 * warm publish — one `mount` — pays in full, and execa 9 throws on a child that failed
 * to start and leaves its `error` event unheard (the plugin dies at fd exhaustion).
 */
export async function spawnChild(file: string, args: readonly string[], options: SpawnOptions): Promise<ChildOutcome> {
  const env = options.env ? { ...process.env, ...options.env } : process.env;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let size = 0;
  let timedOut = false;
  const children: ChildProcess[] = [];
  const collect = (into: Buffer[]) => (chunk: Buffer) => {
    size += chunk.length;
    if (size > options.maxBuffer) for (const child of children) child.kill('SIGTERM');
    else into.push(chunk);
  };
  const failed = async (started: Started): Promise<ChildOutcome> => {
    await started.closed;
    return { exitCode: -1, stdout: '', stderr: started.error?.message ?? 'the command did not start', timedOut: false, ...(started.error ? { startError: started.error } : {}) };
  };

  const sources = options.pipeFrom ?? [];
  const main = start(file, args, [options.input === undefined && sources.length === 0 ? 'ignore' : 'pipe', 'pipe', 'pipe'], env);
  if (!main.child?.stdout || !main.child.stderr) return failed(main);
  const child = main.child;
  children.push(child);
  child.stdout!.on('data', collect(out));
  child.stderr!.on('data', collect(err));
  if (options.onStderrLine) {
    let pending = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) options.onStderrLine?.(line);
    });
  }
  // A child that exits without reading all its input.
  child.stdin?.on('error', () => undefined);
  if (options.input !== undefined) child.stdin!.end(options.input);
  const timer = setTimeout(() => {
    timedOut = true;
    for (const each of children) each.kill('SIGTERM');
  }, options.timeoutMs);
  let exited = false;
  const closed = main.closed.then((code) => {
    exited = true;
    return code;
  });
  let failedSource: number | undefined;
  let sourceFailure: { code: number; error?: NodeJS.ErrnoException } | undefined;
  // Sources run one at a time: the input keeps their order, and at most one pipe's worth is in memory.
  for (const [index, each] of sources.entries()) {
    if (exited || timedOut) break;
    const source = start(each.file, each.args, ['ignore', 'pipe', 'pipe'], env);
    if (source.child?.stdout) {
      children.push(source.child);
      source.child.stderr?.on('data', collect(err));
      source.child.stdout.pipe(child.stdin!, { end: false });
    }
    const code = await source.closed;
    if (source.child) children.splice(children.indexOf(source.child), 1);
    if (code !== 0 || source.error) {
      failedSource = index;
      sourceFailure = { code: code ?? -1, error: source.error };
      // SIGKILL, and no end of input: a consumer told SIGTERM may still see EOF first and
      // commit the partial input (nix-store --load-db checks for interrupts only later).
      child.kill('SIGKILL');
      child.stdin?.destroy();
      break;
    }
  }
  if (sources.length > 0 && !sourceFailure) child.stdin!.end();
  const code = await closed;
  clearTimeout(timer);
  const startError = main.error ?? sourceFailure?.error;
  const stderr = Buffer.concat(err).toString();
  return {
    exitCode: sourceFailure ? sourceFailure.code : (code ?? -1),
    stdout: Buffer.concat(out).toString(),
    stderr: startError ? `${stderr}${startError.message}` : stderr,
    timedOut,
    ...(sourceFailure?.error ? { startError: sourceFailure.error } : {}),
    ...(failedSource !== undefined ? { failedSource } : {}),
  };
}
