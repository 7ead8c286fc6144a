import { injectable } from 'inversify';
import { AbortedError, UnavailableError } from './errors.js';

/** The paths one operation holds: alone (`exclusive`), or alongside other holders that share them (`shared`). */
export interface PathClaim {
  exclusive: readonly string[];
  shared?: readonly string[];
}

/**
 * What a caller does when a path it claims is held: CSI callers are refused at once
 * (ABORTED, CSI's "an operation is pending"; the orchestrator retries), a caller
 * without retries of its own (a Nomad host volume) waits up to `waitMs`, then is told
 * the path is still busy (UNAVAILABLE).
 */
export type WhenBusy = 'refuse' | { waitMs: number };

interface Holder {
  claim: PathClaim;
  operation: string;
}

interface Waiter extends Holder {
  grant: () => void;
}

/**
 * The node's locks on mount paths (canonical target and staging paths), one table for
 * every caller: the CSI node service and Nomad host volumes in serve go through the same
 * publisher and stager, which take these locks themselves. A claim is taken whole or
 * not at all, so two claims never wait on each other (no deadlock); waiters are granted
 * in arrival order as far as their paths allow.
 */
@injectable()
export class PathLocks {
  private readonly exclusive = new Map<string, string>();
  private readonly shared = new Map<string, Map<symbol, string>>();
  private readonly waiters: Waiter[] = [];

  async run<T>(claim: PathClaim, operation: string, whenBusy: WhenBusy, task: () => Promise<T>): Promise<T> {
    const release = await this.acquire({ claim, operation }, whenBusy);
    try {
      return await task();
    } finally {
      release();
    }
  }

  private async acquire(holder: Holder, whenBusy: WhenBusy): Promise<() => void> {
    const busy = this.blocker(holder.claim);
    if (busy === undefined) return this.take(holder);
    if (whenBusy === 'refuse') throw new AbortedError(`an operation (${busy}) is already in progress on this path; retry later`);
    return new Promise<() => void>((resolve, reject) => {
      const waiter: Waiter = {
        ...holder,
        grant: () => {
          clearTimeout(timer);
          resolve(this.take(holder));
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        const still = this.blocker(holder.claim) ?? 'an operation';
        reject(new UnavailableError(`another operation (${still}) on this path did not finish within ${Math.ceil(whenBusy.waitMs / 1000)} s; retry later`));
        this.grantWaiters();
      }, whenBusy.waitMs);
      this.waiters.push(waiter);
    });
  }

  /** What keeps `claim` from being taken now: a holder, or an earlier waiter it would overtake. */
  private blocker(claim: PathClaim): string | undefined {
    return this.conflict(claim) ?? this.waiters.find((waiter) => claimsConflict(waiter.claim, claim))?.operation;
  }

  /** What holds a path of `claim` in a way that excludes it, if anything. */
  private conflict(claim: PathClaim): string | undefined {
    for (const path of claim.exclusive) {
      const owner = this.exclusive.get(path) ?? this.shared.get(path)?.values().next().value;
      if (owner !== undefined) return owner;
    }
    for (const path of claim.shared ?? []) {
      const owner = this.exclusive.get(path);
      if (owner !== undefined) return owner;
    }
    return undefined;
  }

  private take(holder: Holder): () => void {
    const id = Symbol(holder.operation);
    for (const path of holder.claim.exclusive) this.exclusive.set(path, holder.operation);
    for (const path of holder.claim.shared ?? []) {
      const sharers = this.shared.get(path) ?? new Map<symbol, string>();
      sharers.set(id, holder.operation);
      this.shared.set(path, sharers);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const path of holder.claim.exclusive) this.exclusive.delete(path);
      for (const path of holder.claim.shared ?? []) {
        const sharers = this.shared.get(path);
        sharers?.delete(id);
        if (sharers?.size === 0) this.shared.delete(path);
      }
      this.grantWaiters();
    };
  }

  /** Grants, in arrival order, every waiter whose paths are free of holders and of earlier waiters that conflict with it. */
  private grantWaiters(): void {
    const passedOver: PathClaim[] = [];
    for (let i = 0; i < this.waiters.length; ) {
      const waiter = this.waiters[i]!;
      if (this.conflict(waiter.claim) === undefined && !passedOver.some((earlier) => claimsConflict(earlier, waiter.claim))) {
        this.waiters.splice(i, 1);
        waiter.grant();
      } else {
        passedOver.push(waiter.claim);
        i++;
      }
    }
  }
}

function claimsConflict(a: PathClaim, b: PathClaim): boolean {
  const all = (claim: PathClaim) => [...claim.exclusive, ...(claim.shared ?? [])];
  return a.exclusive.some((path) => all(b).includes(path)) || b.exclusive.some((path) => all(a).includes(path));
}
