/**
 * One finding of `nixmount doctor`. `problem` is what stops volumes from mounting (or
 * will, like a full disk) and makes doctor exit 1; `info` is a caveat doctor cannot
 * decide on this node (the orchestrator's version); `ok` says what was verified.
 */
export type CheckStatus = 'ok' | 'problem' | 'info';

export interface CheckResult {
  /** Short name of what was checked: `nix`, `state-dir`, `substituter`… */
  check: string;
  status: CheckStatus;
  message: string;
  /** What to change, for a problem, and what to make sure of, for info; null exactly for ok. */
  fix: string | null;
}

/** A check of the node: bounded by `timeoutMs`, it changes nothing but temp files it removes itself. */
export interface Check {
  name: string;
  timeoutMs: number;
  run(): Promise<CheckResult | CheckResult[]>;
}

export function ok(check: string, message: string): CheckResult {
  return { check, status: 'ok', message, fix: null };
}

export function problem(check: string, message: string, fix: string): CheckResult {
  return { check, status: 'problem', message, fix };
}

export function info(check: string, message: string, fix: string): CheckResult {
  return { check, status: 'info', message, fix };
}

/** The error's message without Node's "ENOENT: " prefix noise kept (the code says it). */
export function reason(error: unknown): string {
  const err = error as NodeJS.ErrnoException;
  return err?.code ?? (error instanceof Error ? error.message : String(error));
}
