import type { RealiseEvent } from '../core/ports/nix-store.js';

const PLAN_FETCH_MANY = /^these (\d+) paths will be fetched \(([\d.]+) MiB download/;
const PLAN_FETCH_ONE = /^this path will be fetched \(([\d.]+) MiB download/;
const PLAN_BUILD_MANY = /^these (\d+) derivations will be built:/;
const PLAN_BUILD_ONE = /^this derivation will be built:/;
const FETCHING = /^copying path '([^']+)' from '([^']+)'/;
const BUILDING = /^building '([^']+)'/;
const PLAN_ENTRY = /^ {2}\/nix\/store\//;
// Nix's own chatter that says nothing about why a realise failed.
// ("build of P failed" for a store path P that is not a derivation just repeats that P was not fetched.)
const NOISE = [/--add-root/, /retrying in \d+ ms/, /^don't know how to build these paths:/, /^error: build of '[^']*[^v]' failed$/, /unable to start any build/];

/**
 * Reads `nix-store --realise` stderr line by line: progress events for the logs and
 * retry messages, and what to quote when it fails (cache warnings, build log tail).
 */
export class RealiseOutput {
  /** Warnings and errors from Nix (unreachable caches, bad signatures…), deduplicated. */
  readonly problems: string[] = [];
  /** Builder output, in order; failures quote its tail. */
  readonly buildLog: string[] = [];
  failedDerivation?: string;
  buildNotAllowed = false;

  constructor(private readonly onEvent: (event: RealiseEvent) => void = () => undefined) {}

  line(raw: string): void {
    const line = raw.trimEnd();
    if (line === '' || PLAN_ENTRY.test(line)) return;
    let match: RegExpExecArray | null;
    if ((match = PLAN_FETCH_MANY.exec(line))) {
      this.onEvent({ kind: 'plan', fetch: Number(match[1]), build: 0, downloadMiB: Number(match[2]) });
    } else if ((match = PLAN_FETCH_ONE.exec(line))) {
      this.onEvent({ kind: 'plan', fetch: 1, build: 0, downloadMiB: Number(match[1]) });
    } else if ((match = PLAN_BUILD_MANY.exec(line))) {
      this.onEvent({ kind: 'plan', fetch: 0, build: Number(match[1]) });
    } else if (PLAN_BUILD_ONE.test(line)) {
      this.onEvent({ kind: 'plan', fetch: 0, build: 1 });
    } else if ((match = FETCHING.exec(line))) {
      this.onEvent({ kind: 'fetching', path: match[1]!, from: match[2]! });
    } else if ((match = BUILDING.exec(line))) {
      this.onEvent({ kind: 'building', derivation: match[1]! });
    } else if (/^(warning|error): /.test(line)) {
      this.problem(line);
    } else if (!NOISE.some((pattern) => pattern.test(line))) {
      this.buildLog.push(line);
      if (this.buildLog.length > 200) this.buildLog.shift();
      this.onEvent({ kind: 'log', line });
    }
  }

  private problem(line: string): void {
    const builder = /^error: builder for '([^']+)' failed/.exec(line);
    if (builder) this.failedDerivation = builder[1];
    if (/unable to start any build/.test(line)) this.buildNotAllowed = true;
    if (NOISE.some((pattern) => pattern.test(line)) || builder) return;
    const text = line.replace(/^warning: (error: )?/, '');
    if (!this.problems.includes(text)) this.problems.push(text);
  }
}
