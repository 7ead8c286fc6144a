import { inject, injectable } from 'inversify';
import { Logger } from './ports/logger.js';
import { NixStore } from './ports/nix-store.js';
import { NodeEvents } from './ports/node-events.js';
import { SourceSettings } from './source-settings.js';

/** How long after a failed push the paths still waiting are pushed again, unless settings say otherwise. */
export const DEFAULT_PUSH_RETRY_MS = 60_000;

/**
 * Pushes what this node realised to its cache (--push-to), in the background.
 *
 * A publish never waits for a push and never fails because of one: other nodes
 * lose a substitute, not this one its volume. Paths wait in one queue and go in
 * one `nix copy` per round, so a cache that is down costs one timeout per round
 * (per closure realised while it is up, all closures while it is down), never
 * one per volume. Nix uploads a NAR before its .narinfo, so a cut push leaves
 * nothing a substituter would take; what was not pushed stays queued and is
 * pushed again after a delay. The queue lives in memory: a restart forgets it.
 */
@injectable()
export class CachePusher {
  private readonly pending = new Set<string>();
  private running?: Promise<void>;
  private retry?: ReturnType<typeof setTimeout>;
  private stopped = false;

  constructor(
    @inject(NixStore) private readonly nix: NixStore,
    @inject(SourceSettings) private readonly settings: SourceSettings,
    @inject(Logger) private readonly log: Logger,
    @inject(NodeEvents) private readonly events: NodeEvents,
  ) {}

  /** Queues `paths` for the cache and returns at once; nothing when the node pushes nowhere. */
  push(paths: readonly string[]): void {
    if (!this.settings.pushTo || this.stopped || paths.length === 0) return;
    for (const path of paths) this.pending.add(path);
    this.kick();
  }

  /** Paths waiting for the cache. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Resolves when the round in flight (if any) has ended. */
  async settled(): Promise<void> {
    await this.running;
  }

  /** No new rounds; the one in flight ends on its own (Nix's upload is bounded by its timeouts). */
  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
  }

  private kick(): void {
    if (this.running || this.stopped) return;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    this.running = this.drain().finally(() => {
      this.running = undefined;
    });
  }

  private async drain(): Promise<void> {
    const uri = this.settings.pushTo!;
    while (this.pending.size > 0 && !this.stopped) {
      const batch = [...this.pending];
      const started = performance.now();
      const ok = await this.nix.push(uri, batch).then(
        () => true,
        (error: unknown) => {
          this.log.warn({ cache: uri, paths: batch.length, err: error }, 'pushing realised paths to the cache failed; they stay queued');
          return false;
        },
      );
      if (ok) {
        for (const path of batch) this.pending.delete(path);
        this.log.info({ cache: uri, paths: batch }, 'pushed realised paths to the cache');
      }
      this.events.emit({ kind: 'cache-push', ok, paths: batch.length, waiting: this.pending.size, seconds: (performance.now() - started) / 1000 });
      if (!ok) {
        this.scheduleRetry();
        return;
      }
    }
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.retry = setTimeout(() => this.kick(), this.settings.pushRetryMs ?? DEFAULT_PUSH_RETRY_MS);
    // A queued push is no reason to keep a stopping process alive.
    this.retry.unref?.();
  }
}
