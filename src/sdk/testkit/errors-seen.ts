/** What an adapter method did with one input: returned a value, or threw an error of some kind. */
export type Outcome = { returned: unknown } | { threw: { kind?: string; message: string } };

export function attempt(run: () => unknown): Outcome {
  try {
    return { returned: run() };
  } catch (error) {
    const kind = (error as { kind?: unknown } | null)?.kind;
    return { threw: { kind: typeof kind === 'string' ? kind : undefined, message: error instanceof Error ? error.message : String(error) } };
  }
}

/** "returned \"/x\"" or "threw a FailedPrecondition error: …" or "threw an Error without a kind: …". */
export function describe(outcome: Outcome): string {
  if ('returned' in outcome) return `returned ${JSON.stringify(outcome.returned)}`;
  const { kind, message } = outcome.threw;
  return kind ? `threw ${kind}: ${message}` : `threw an error without a kind (not one of the SDK's errors): ${message}`;
}

/** A problem unless `outcome` is a thrown error of `kind` (whose message contains `mention`, when given). */
export function expectRefusal(outcome: Outcome, kinds: readonly string[], what: string, mention?: string): string[] {
  if ('threw' in outcome && outcome.threw.kind !== undefined && kinds.includes(outcome.threw.kind)) {
    if (mention !== undefined && !outcome.threw.message.includes(mention)) {
      return [`${what}: refused, but the message does not name ${JSON.stringify(mention)}: ${outcome.threw.message}`];
    }
    return [];
  }
  return [`${what}: expected a refusal (${kinds.join(' or ')}), but it ${describe(outcome)}`];
}

/** A problem unless `outcome` returned exactly `expected`. */
export function expectReturn(outcome: Outcome, expected: unknown, what: string): string[] {
  if ('returned' in outcome && JSON.stringify(outcome.returned) === JSON.stringify(expected)) return [];
  return [`${what}: expected it to return ${JSON.stringify(expected)}, but it ${describe(outcome)}`];
}
