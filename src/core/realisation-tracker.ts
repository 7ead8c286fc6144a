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
}

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

  constructor(
    @inject(SourceSettings) private readonly settings: SourceSettings,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly log: Logger,
  ) {}

  /**
   * Runs `work` for `key` unless it is already running (then joins it) or failed
   * recently (then throws that failure again). Resolves with its result, or throws
   * AbortedError when the work outlasts the wait; the work keeps running. `onProgress`
   * hears this caller's wait (each caller its own: the work is shared).
   */
  async run<T>(
    key: string,
    label: string,
    work: (progress: RealiseProgress) => Promise<T>,
    log: Logger = this.log,
    onProgress?: ProgressListener,
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
    let job = this.jobs.get(key) as Job<T> | undefined;
    if (job) {
      log.info({ source: label, progress: job.progress.summary() }, 'joining the work already under way for this source');
    } else {
      job = this.start(key, label, work, log);
    }
    const stopReporting = onProgress ? this.reportProgress(job, onProgress) : undefined;
    try {
      return await this.wait(job);
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

  /** Whether work for `key` is under way. */
  isRunning(key: string): boolean {
    return this.jobs.has(key);
  }

  private start<T>(key: string, label: string, work: (progress: RealiseProgress) => Promise<T>, log: Logger): Job<T> {
    const progress = new RealiseProgress();
    const started = this.clock.now().getTime();
    const promise = Promise.resolve().then(() => work(progress));
    const job: Job<T> = { promise, progress, label };
    this.jobs.set(key, job);
    // Nobody may be waiting when the work ends (every caller got ABORTED): settle it here.
    promise.then(
      () => {
        this.jobs.delete(key);
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

  private async wait<T>(job: Job<T>): Promise<T> {
    const waitMs = this.settings.realiseWaitMs;
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
