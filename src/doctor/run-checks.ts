import { problem, type Check, type CheckResult } from './check.js';

/**
 * Runs every check at once, each within its own time limit: a check that throws or
 * overruns is a problem of its own, and never hides the others. Results keep the checks' order.
 */
export async function runChecks(checks: readonly Check[]): Promise<CheckResult[]> {
  const results = await Promise.all(checks.map((check) => bounded(check)));
  return results.flat();
}

async function bounded(check: Check): Promise<CheckResult[]> {
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(
      () => resolve(problem(check.name, `did not finish within ${check.timeoutMs / 1000}s`, 'something on the node hangs (a stuck mount, an unresponsive Nix or cache): look for processes in D state and for the slow part with the other checks')),
      check.timeoutMs,
    );
  });
  try {
    const result = await Promise.race([
      check.run().catch((error: unknown) =>
        problem(check.name, `the check failed: ${error instanceof Error ? error.message : String(error)}`, 'run it again with --json and report it with the output, if it persists'),
      ),
      overrun,
    ]);
    return Array.isArray(result) ? result : [result];
  } finally {
    clearTimeout(timer);
  }
}

const STATUS_WIDTH = 8;

/** One line per result: `ok      nix: …`, `problem state-dir: … — fix: …` (a message quoting several lines of a tool's output is joined). */
export function formatLine(result: CheckResult): string {
  const text = `${result.status.padEnd(STATUS_WIDTH)}${result.check}: ${result.message}${result.fix ? ` — fix: ${result.fix}` : ''}`;
  return text.replace(/\s*\n\s*/g, ' ');
}

export function formatReport(results: readonly CheckResult[]): string {
  const problems = results.filter((result) => result.status === 'problem').length;
  const checked = `${results.length} check${results.length === 1 ? '' : 's'}`;
  const summary = problems === 0 ? `no problem found (${checked})` : `${problems} problem${problems === 1 ? '' : 's'} found (${checked})`;
  return [...results.map(formatLine), summary].join('\n');
}
