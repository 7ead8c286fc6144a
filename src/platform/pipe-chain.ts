import { execa, type Options } from 'execa';

export interface PipeChainResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Which source failed, when one did: its command line is what the error names. */
  failedSource?: number;
}

/**
 * Runs `command` with the stdouts of `sources`, one after another, as its stdin:
 * one consumer for input too long for one source's argument list (a `--load-db`
 * that must see a whole closure at once, fed by `--dump-db`s of a few paths each).
 * Sources run one at a time, so the input's order is theirs and at most one pipe's
 * worth of it is in memory. A failed source fails the chain (the consumer is
 * stopped before it commits what it read); a consumer that dies stops the source.
 */
export async function runPipeChain(
  command: [string, string[]],
  sources: ReadonlyArray<[string, string[]]>,
  options: Options & { reject: false },
): Promise<PipeChainResult> {
  const consumer = execa(...command, { ...options, stdin: 'pipe' });
  let current: ReturnType<typeof execa> | undefined;
  let consumerDone = false;
  const consumed = consumer.finally(() => {
    consumerDone = true;
    current?.kill('SIGTERM');
  });
  consumer.stdin!.on('error', () => undefined); // a consumer that exits without reading all of it
  let failedSource: PipeChainResult['failedSource'];
  let failure: { exitCode: number; stderr: string; timedOut: boolean } | undefined;
  for (const [index, [file, args]] of sources.entries()) {
    if (consumerDone) break;
    const source = execa(file, args, { ...options, stdin: 'ignore', buffer: { stdout: false } });
    current = source;
    source.stdout!.pipe(consumer.stdin!, { end: false });
    const result = await source;
    current = undefined;
    if (result.exitCode !== 0 && !consumerDone) {
      failedSource = index;
      failure = { exitCode: result.exitCode ?? -1, stderr: String(result.stderr ?? ''), timedOut: Boolean(result.timedOut) };
      consumer.kill('SIGTERM');
      break;
    }
  }
  consumer.stdin!.end();
  const result = await consumed;
  if (failure) return { ...failure, stdout: '', failedSource };
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), timedOut: Boolean(result.timedOut) };
}
