export const ProcessRunner = Symbol('ProcessRunner');

export interface RunOptions {
  /** Bytes written to the child's stdin. */
  input?: string | Buffer;
  /** Extra environment on top of the runner's base environment. */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Strings replaced by *** in logs and errors (tokens, keys). */
  redact?: readonly string[];
  /** Return a failed result instead of throwing when the command exits non-zero. */
  allowFailure?: boolean;
  /**
   * Stream the stdouts of these commands, run one after another, into this command's
   * stdin (shell-free pipes). A failing one fails the run, naming it.
   */
  pipeFrom?: ReadonlyArray<{ command: string; args: readonly string[] }>;
  /** Called with each stderr line as it arrives (progress for long work). */
  onStderrLine?: (line: string) => void;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Killed at its timeout (only seen with allowFailure; otherwise the run throws). */
  timedOut?: boolean;
}

/** The one way the platform layer starts external programs (the core never does: it only sees the ports built on this). */
export interface ProcessRunner {
  run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
}
