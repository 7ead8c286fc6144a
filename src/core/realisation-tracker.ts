import { inject, injectable } from 'inversify';
import { AbortedError } from './errors.js';
import { Clock } from './ports/clock.js';
import { Logger } from './ports/logger.js';
import { RealiseProgress } from './realise-progress.js';
import { SourceSettings } from './source-settings.js';

interface Job<T> {
  promise: Promise<T>;
  progress: RealiseProgress;
  label: string;
  /** Calls waiting on it now (the others got ABORTED). */
  waiting: number;
}

// Work that finished while every caller had been answered ABORTED left paths no view
// roots yet; the orchestrator's retry (backoff up to ~5 minutes) comes for them.
const UNCLAIMED_MS = 10 * 60_000;

/** Told, while a call waits, what the work has done so far and how long the call has waited (seconds). */
export type ProgressListener = (summary: string, seconds: number) => void;

const DEFAULT_PROGRESS_EVERY_MS = 5_000;

interface RememberedFailure {
  error: unknown;
  at: number;
}

/**
 * Long work (evaluate + realise one source) detached from the calls that asked for it.
 *
 * Orchestrators give a call two minutes and then retry. A realise may take longer,
 * so the work never belongs to a call: the first call starts it, every call (the
 * first, concurrent ones, retries) waits at most `realiseWaitMs` and then gets a
 * retryable ABORTED with progress, and the next retry joins the same work. One
 * source is evaluated and realised once however many calls want it. A failure is
 * answered from memory for `failureMemoryMs`, so a retry storm cannot rebuild a
 * failing derivation over and over.
 */
@injectable()
export class RealisationTracker {
  private readonly jobs = new Map<string, Job<unknown>>();
  private readonly failures = new Map<string, RememberedFailure>();
  /** Finished successfully with nobody waiting: when, by key (forgotten when a retry comes, or after UNCLAIMED_MS). */
  private readonly unclaimed = new Map<string, number>();

  constructor(
    @inject(SourceSettings) private readonly settings: SourceSettings,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly log: Logger,
  ) {}

  /**
   * Runs `work` for `key` unless it is already running (then joins it) or failed
   * recently (then throws that failure again). Resolves with its result, or throws
   * AbortedError when the work outlasts the wait (`waitMs`, the node's setting unless a
   * caller has a deadline of its own); the work keeps running. `onProgress` hears this
   * caller's wait (each caller its own: the work is shared).
   */
  async run<T>(
    key: string,
    label: string,
    work: (progress: RealiseProgress) => Promise<T>,
    log: Logger = this.log,
    { waitMs = this.settings.realiseWaitMs, onProgress }: { waitMs?: number; onProgress?: ProgressListener } = {},
  ): Promise<T> {
    const failure = this.failures.get(key);
    if (failure) {
      const age = this.clock.now().getTime() - failure.at;
      if (age < this.settings.failureMemoryMs) {
        log.info({ source: label, ageMs: age }, 'answering with the failure remembered for this source');
        throw failure.error;
      }
      this.failures.delete(key);
    }
    this.unclaimed.delete(key);
    let job = this.jobs.get(key) as Job<T> | undefined;
    if (job) {
      log.info({ source: label, progress: job.progress.summary() }, 'joining the work already under way for this source');
    } else {
      job = this.start(key, label, work, log);
    }
    const stopReporting = onProgress ? this.reportProgress(job, onProgress) : undefined;
    try {
      return await this.wait(job, waitMs);
    } finally {
      stopReporting?.();
    }
  }

  /** Calls `listener` every progressEveryMs while the caller waits; returns the function that stops it. */
  private reportProgress(job: Job<unknown>, listener: ProgressListener): () => void {
    const every = this.settings.progressEveryMs ?? DEFAULT_PROGRESS_EVERY_MS;
    const started = performance.now();
    const timer = setInterval(() => listener(job.progress.summary(), (performance.now() - started) / 1000), every);
    return () => clearInterval(timer);
  }

  /** Forgets a remembered failure (an explicit refresh). Running work is not affected. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /**
   * Work under way, and work finished that no caller has picked up yet: their paths
   * are valid but not rooted by a view, so the store GC waits for them.
   */
  inFlight(): number {
    const now = this.clock.now().getTime();
    for (const [key, at] of this.unclaimed) if (now - at >= UNCLAIMED_MS) this.unclaimed.delete(key);
    return this.jobs.size + this.unclaimed.size;
  }

  /** Whether work for `key` is under way. */
  isRunning(key: string): boolean {
    return this.jobs.has(key);
  }

  /** The phase of each piece of work under way now (for metrics: realisations in flight). */
  phasesInFlight(): Array<RealiseProgress['phase']> {
    return [...this.jobs.values()].map((job) => job.progress.phase);
  }

  private start<T>(key: string, label: string, work: (progress: RealiseProgress) => Promise<T>, log: Logger): Job<T> {
    const progress = new RealiseProgress();
    const started = this.clock.now().getTime();
    const promise = Promise.resolve().then(() => work(progress));
    const job: Job<T> = { promise, progress, label, waiting: 0 };
    this.jobs.set(key, job);
    // Nobody may be waiting when the work ends (every caller got ABORTED): settle it here.
    promise.then(
      () => {
        this.jobs.delete(key);
        if (job.waiting === 0) this.unclaimed.set(key, this.clock.now().getTime());
        log.info({ source: label, ms: this.clock.now().getTime() - started }, 'source ready');
      },
      (error: unknown) => {
        this.jobs.delete(key);
        this.failures.set(key, { error, at: this.clock.now().getTime() });
        log.warn({ source: label, err: error, ms: this.clock.now().getTime() - started }, 'source failed; remembered for retries');
      },
    );
    return job;
  }

  private async wait<T>(job: Job<T>, waitMs: number): Promise<T> {
    job.waiting++;
    try {
      return await this.race(job, waitMs);
    } finally {
      job.waiting--;
    }
  }

  private async race<T>(job: Job<T>, waitMs: number): Promise<T> {
    if (waitMs <= 0) return job.promise;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), waitMs);
    });
    try {
      // A settled job always wins the race, so 'timeout' means the work is still running.
      const winner = await Promise.race([job.promise.then((value) => ({ value })), timedOut]);
      if (winner === 'timeout') {
        throw new AbortedError(`still preparing ${job.label}: ${job.progress.summary()}; the work continues, retry to pick up its result`);
      }
      return winner.value;
    } finally {
      clearTimeout(timer);
    }
  }
}
