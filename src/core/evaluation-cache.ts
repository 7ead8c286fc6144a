import { inject, injectable } from 'inversify';
import { Clock } from './ports/clock.js';
import { Logger } from './ports/logger.js';
import { NixStore, type Evaluation } from './ports/nix-store.js';
import { SourceSettings } from './source-settings.js';

interface Entry {
  evaluation: Promise<Evaluation>;
  at: number;
  /** Locked sources evaluate to the same derivation forever. */
  forever: boolean;
}

// A flake ref pinned to a commit or a content hash cannot change what it evaluates to.
const LOCKED_QUERY = /[?&](rev|narHash)=/;
const LOCKED_FORGE_PATH = /^(github|gitlab|sourcehut):[^/?#]+\/[^/?#]+\/[0-9a-f]{40}([?#]|$)/;

export function isLockedFlakeRef(ref: string): boolean {
  return LOCKED_QUERY.test(ref) || LOCKED_FORGE_PATH.test(ref);
}

/**
 * Evaluations remembered per source: an expression or an unlocked flake for
 * `evalTtlMs` (what it names may move: NIX_PATH channels, branches), a locked flake
 * for the life of the process. Concurrent lookups share one evaluation; a failed
 * one is not kept.
 */
@injectable()
export class EvaluationCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    @inject(NixStore) private readonly nix: NixStore,
    @inject(SourceSettings) private readonly settings: SourceSettings,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly log: Logger,
  ) {}

  expression(text: string, options: { refresh?: boolean; log?: Logger } = {}): Promise<Evaluation> {
    const mayBuild = this.settings.policy.allowBuilds;
    return this.lookup(`expression\0${text}`, false, options, () => this.nix.evaluateExpression(text, { mayBuild }));
  }

  flake(ref: string, options: { refresh?: boolean; log?: Logger } = {}): Promise<Evaluation> {
    const refresh = options.refresh ?? false;
    const mayBuild = this.settings.policy.allowBuilds;
    return this.lookup(`flake\0${ref}`, isLockedFlakeRef(ref), options, () => this.nix.evaluateFlake(ref, { refresh, mayBuild }));
  }

  private lookup(key: string, forever: boolean, options: { refresh?: boolean; log?: Logger }, evaluate: () => Promise<Evaluation>): Promise<Evaluation> {
    const now = this.clock.now().getTime();
    const entry = this.entries.get(key);
    if (entry && !options.refresh && (entry.forever || now - entry.at < this.settings.evalTtlMs)) {
      return entry.evaluation;
    }
    const log = options.log ?? this.log;
    log.info({ source: key.split('\0')[0], refresh: options.refresh ?? false }, 'evaluating');
    const evaluation = evaluate();
    const fresh: Entry = { evaluation, at: now, forever };
    this.entries.set(key, fresh);
    evaluation.then(
      (result) => log.info({ output: result.output }, 'evaluated'),
      () => {
        if (this.entries.get(key) === fresh) this.entries.delete(key);
      },
    );
    return evaluation;
  }
}
