import { PermissionDeniedError } from './errors.js';
import { flakeRefUnder, parseFlakePrefix, parseFlakeRef, type FlakeLocation } from './flake-ref.js';
import type { VolumeSpec } from './volume-spec.js';

export const SourceSettings = Symbol('SourceSettings');

/**
 * Which closures a node accepts from volume requests. Store paths only name what
 * already exists somewhere; an expression or a flake is code evaluated (and maybe
 * built) on the node, so those are opt-in.
 */
export interface SourcePolicy {
  allowExpressions: boolean;
  allowFlakes: boolean;
  /**
   * A flakeRef must be at or below one of these, compared segment by segment after
   * both are parsed (see flake-ref.ts); empty allows every ref (once flakes are allowed).
   */
  flakePrefixes: string[];
  /** May the node run builders, or only substitute from its caches? */
  allowBuilds: boolean;
}

/** How the node names, evaluates and realises closures; set on `nixmount serve`. */
export interface SourceSettings {
  policy: SourcePolicy;
  /**
   * How long one call waits for an evaluation+realisation before answering ABORTED
   * (the work goes on; a retry joins it). Below the orchestrators' 2-minute call timeout.
   * 0 waits as long as the work takes.
   */
  realiseWaitMs: number;
  /** A failed evaluation/realisation is answered from memory this long, so retry storms do not redo it. */
  failureMemoryMs: number;
  /** Expressions and unlocked flakes are evaluated again after this long; locked flakes never. */
  evalTtlMs: number;
  /** Binary cache to copy what this node built or fetched to, so other nodes substitute it. */
  pushTo?: string;
  /** How long after a failed push the queued paths are pushed again (CachePusher's default otherwise). */
  pushRetryMs?: number;
  /** A call waiting for a realisation hears its progress this often (first after this long); 5 s when unset. */
  progressEveryMs?: number;
}

export const DEFAULT_SOURCE_SETTINGS: SourceSettings = {
  policy: { allowExpressions: false, allowFlakes: false, flakePrefixes: [], allowBuilds: false },
  realiseWaitMs: 90_000,
  failureMemoryMs: 30_000,
  evalTtlMs: 10 * 60_000,
};

/** Throws PermissionDeniedError naming the policy setting that refuses `spec`. */
export function checkSourcePolicy(spec: VolumeSpec, policy: SourcePolicy): void {
  if (spec.expression !== undefined && !policy.allowExpressions) {
    throw new PermissionDeniedError(
      'the "expression" key is refused by this node\'s source policy (allowed sources do not include expressions; see serve --allow-sources)',
    );
  }
  if (spec.flakeRef !== undefined) {
    if (!policy.allowFlakes) {
      throw new PermissionDeniedError(
        'the "flakeRef" key is refused by this node\'s source policy (allowed sources do not include flakes; see serve --allow-sources)',
      );
    }
    const ref = spec.flakeRef;
    if (policy.flakePrefixes.length > 0) {
      const location = parseFlakeRef(ref);
      const under = (prefix: string) => {
        const covering = prefixLocation(prefix);
        return covering !== undefined && flakeRefUnder(location, covering);
      };
      if (!policy.flakePrefixes.some(under)) {
        throw new PermissionDeniedError(
          `flakeRef "${ref}" is refused by this node's source policy: it starts with none of the allowed flake prefixes (${policy.flakePrefixes.join(', ')}; see serve --flake-prefixes)`,
        );
      }
    }
  }
}

/** A prefix that does not parse covers nothing; the settings refuse one at start (see assertFlakePrefixes). */
function prefixLocation(prefix: string): FlakeLocation | undefined {
  try {
    return parseFlakePrefix(prefix);
  } catch {
    return undefined;
  }
}

/** Throws (the message naming the prefix and why) when a --flake-prefixes entry could never be compared safely. */
export function assertFlakePrefixes(prefixes: readonly string[]): void {
  for (const prefix of prefixes) parseFlakePrefix(prefix);
}
