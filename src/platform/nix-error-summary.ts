import { boundMessage } from '../core/quote.js';

/** Bytes of Nix's own words a caller is shown: its error line and where it happened. */
const SUMMARY_MAX_BYTES = 400;
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
const POSITION = /^\s*at (.+:\d+:\d+):?\s*$/;

/**
 * What of an evaluation's stderr goes back to the caller: Nix's first `error:` line
 * and the position after it, bounded. Everything else stays out: `trace:` lines,
 * the source snippet Nix quotes under the position, the rest of a multi-line
 * message. Each can carry the text of a file the evaluation read, and the caller's
 * answer travels far (Kubernetes shows it in the pod's events).
 */
export function nixErrorSummary(stderr: string): string {
  const lines = stderr.replace(ANSI, '').split('\n');
  const first = lines.findIndex((line) => line.startsWith('error:'));
  if (first === -1) return 'Nix gave no error line';
  const position = lines
    .slice(first + 1, first + 4)
    .map((line) => POSITION.exec(line)?.[1])
    .find((found) => found !== undefined);
  const summary = position ? `${lines[first]!.trimEnd()} (at ${position})` : lines[first]!.trimEnd();
  return boundMessage(summary, SUMMARY_MAX_BYTES);
}
