import { inject, injectable } from 'inversify';
import { CommandFailedError } from './errors.js';
import { Clock } from './ports/clock.js';
import { Logger } from './ports/logger.js';
import { StoreGarbage, type StoreSpace } from './ports/nix-store.js';
import { NodeEvents, type NodeEvent } from './ports/node-events.js';
import { RealisationTracker } from './realisation-tracker.js';
import { StoreGcSettings, bytesAboveLow, bytesToFree, usedPercent } from './store-watermarks.js';
import { ViewManager } from './view-manager.js';

export type StoreGcTrigger = 'periodic' | 'realise' | 'command';

/** What one check did. */
export type StoreGcResult =
  | { action: 'disabled' }
  /** The store's filesystem could not be read (statfs failed). */
  | { action: 'unreadable'; error: unknown }
  | { action: 'below-high'; usedPercent: number }
  /** Above high, but a realisation or a view build was in flight: collected at a later check. */
  | { action: 'deferred'; usedPercent: number }
  | {
      action: 'collected';
      outcome: 'ok' | 'failed' | 'timeout';
      before: StoreSpace;
      /** Read again after the collection (absent when that read failed). */
      after?: StoreSpace;
      bytesFreed: number;
      pathsDeleted: number;
      seconds: number;
      error?: unknown;
    };

// The collector's own bound comes first (the process runner kills Nix at timeoutMs);
// this one only frees the check if a collector never answers at all.
const WATCHDOG_GRACE_MS = 10_000;
// Nix counts the bytes of the files it unlinks; the filesystem may free less (the
// database grows while rows go, directories keep their blocks). A collection that
// left the store above low goes on for the rest, this many rounds at most.
const MAX_ROUNDS = 3;

/** Events after which the store has new paths, already rooted by a view (or left by a failed realise). */
function followsRealise(event: NodeEvent): boolean {
  return (
    event.kind === 'view-built' ||
    (event.kind === 'publish-finished' && !event.viewReused) ||
    (event.kind === 'realise-finished' && !event.ok)
  );
}

/**
 * Keeps the node store below its high watermark: checked every `intervalMs` and
 * after each realise (once its view roots it), and collected down to the low
 * watermark with Nix's GC, which deletes only paths no GC root holds — every view
 * roots its closure for as long as it exists, that is until `--view-idle` after its
 * last volume went, so a replacement pod still finds its closure.
 *
 * One collection at a time (a check while one runs joins it). Nothing here is a
 * lock a publish takes: publishes run on during a collection. A collection is not
 * started while a realisation or a view build is in flight, or a finished
 * realisation waits for its caller's retry (their paths are not rooted yet),
 * unless that has kept it waiting a whole interval. A collection that
 * fails or times out is logged, reported as a `store-gc` event and tried again at
 * the next check.
 */
@injectable()
export class StoreGarbageCollector {
  private running?: Promise<StoreGcResult>;
  private deferredSince?: number;
  private timer?: ReturnType<typeof setInterval>;
  private unsubscribe?: () => void;

  constructor(
    @inject(StoreGarbage) private readonly garbage: StoreGarbage,
    @inject(StoreGcSettings) private readonly settings: StoreGcSettings,
    @inject(RealisationTracker) private readonly realisations: RealisationTracker,
    @inject(ViewManager) private readonly views: ViewManager,
    @inject(NodeEvents) private readonly events: NodeEvents,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly log: Logger,
  ) {}

  get enabled(): boolean {
    return this.settings.highPercent !== undefined && this.settings.lowPercent !== undefined;
  }

  /** Starts the periodic check (and one now) and the check after each realise; nothing when off. */
  start(): void {
    if (!this.enabled || this.timer) return;
    this.log.info({ high: this.settings.highPercent, low: this.settings.lowPercent, intervalMs: this.settings.intervalMs }, 'store GC by watermarks on');
    this.timer = setInterval(() => void this.check('periodic'), this.settings.intervalMs);
    this.timer.unref?.();
    this.unsubscribe = this.events.subscribe((event) => {
      if (followsRealise(event)) void this.check('realise');
    });
    void this.check('periodic');
  }

  /** Stops checking. A collection under way is left to finish (or to its timeout). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Checks the watermarks once and collects when due; never throws. */
  check(trigger: StoreGcTrigger): Promise<StoreGcResult> {
    if (!this.enabled) return Promise.resolve({ action: 'disabled' });
    this.running ??= this.checkOnce(trigger).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async checkOnce(trigger: StoreGcTrigger): Promise<StoreGcResult> {
    let before: StoreSpace;
    try {
      before = await this.garbage.space();
    } catch (error) {
      this.log.error({ err: error }, 'reading the store filesystem\'s usage failed; store GC retried at the next check');
      return { action: 'unreadable', error };
    }
    const used = usedPercent(before);
    const wanted = bytesToFree(before, this.settings);
    if (wanted === 0) {
      this.deferredSince = undefined;
      return { action: 'below-high', usedPercent: used };
    }
    if (trigger !== 'command' && this.shouldDefer()) {
      this.log.info({ usedPercent: round(used) }, 'store above its high watermark; collection deferred while a realisation or view build is in flight');
      return { action: 'deferred', usedPercent: used };
    }
    this.deferredSince = undefined;
    return this.collect(trigger, before, wanted);
  }

  private shouldDefer(): boolean {
    if (this.realisations.inFlight() === 0 && this.views.callsInFlight() === 0) {
      return false;
    }
    const now = this.clock.now().getTime();
    this.deferredSince ??= now;
    return now - this.deferredSince < this.settings.intervalMs;
  }

  private async collect(trigger: StoreGcTrigger, before: StoreSpace, wanted: number): Promise<StoreGcResult> {
    const { highPercent: high, lowPercent: low, timeoutMs } = this.settings;
    this.log.info({ trigger, usedPercent: round(usedPercent(before)), high, low, maxFreedBytes: wanted }, 'store above its high watermark; collecting garbage');
    const started = performance.now();
    let outcome: 'ok' | 'failed' | 'timeout' = 'ok';
    const freed = { bytesFreed: 0, pathsDeleted: 0 };
    let failure: unknown;
    let after: StoreSpace | undefined;
    let maxFreedBytes = wanted;
    for (let pass = 1; ; pass++) {
      // The bound is for the whole collection, every round included.
      const left = Math.max(1, Math.floor(timeoutMs - (performance.now() - started)));
      try {
        const result = await withWatchdog(this.garbage.collect({ maxFreedBytes, timeoutMs: left }), left + Math.min(WATCHDOG_GRACE_MS, left));
        freed.bytesFreed += result.bytesFreed;
        freed.pathsDeleted += result.pathsDeleted;
        after = await this.garbage.space().catch(() => undefined);
        if (!after || result.bytesFreed === 0 || pass >= MAX_ROUNDS || low === undefined) break;
        maxFreedBytes = bytesAboveLow(after, low);
        if (maxFreedBytes === 0) break;
      } catch (error) {
        failure = error;
        outcome = error instanceof CommandFailedError && error.timedOut ? 'timeout' : 'failed';
        after = await this.garbage.space().catch(() => undefined);
        break;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    this.events.emit({ kind: 'store-gc', outcome, bytesFreed: freed.bytesFreed, seconds, trigger });
    const fields = {
      trigger,
      outcome,
      bytesFreed: freed.bytesFreed,
      pathsDeleted: freed.pathsDeleted,
      seconds: round(seconds),
      usedPercentBefore: round(usedPercent(before)),
      usedPercentAfter: after ? round(usedPercent(after)) : undefined,
    };
    if (failure) {
      this.log.error({ ...fields, err: failure }, 'store garbage collection failed; retried at the next check');
    } else if (after && low !== undefined && usedPercent(after) > low) {
      this.log.warn(fields, 'store garbage collected, still above the low watermark: the rest is rooted (views in use or idle, other GC roots)');
    } else {
      this.log.info(fields, 'store garbage collected');
    }
    return { action: 'collected', outcome, before, ...(after ? { after } : {}), ...freed, seconds, ...(failure ? { error: failure } : {}) };
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** The collection, or a timed-out CommandFailedError if it has not answered after `ms`. */
function withWatchdog<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CommandFailedError('nix-store --gc', undefined, 'no answer from the collector', { timedOut: true, timeoutMs: ms })), ms);
  });
  return Promise.race([work, watchdog]).finally(() => clearTimeout(timer));
}
