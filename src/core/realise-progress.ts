import type { RealiseEvent } from './ports/nix-store.js';

const LOG_TAIL_LINES = 20;

/** What one evaluation+realisation has done so far, for retry messages and logs. */
export class RealiseProgress {
  phase: 'evaluating' | 'checking' | 'realising' | 'pushing' = 'evaluating';
  private toFetch = 0;
  private toBuild = 0;
  private downloadMiB = 0;
  // Counted when Nix starts a path: its legacy output does not say when one ends.
  private fetched = 0;
  private built = 0;
  private readonly tail: string[] = [];

  apply(event: RealiseEvent): void {
    switch (event.kind) {
      case 'plan':
        this.toFetch += event.fetch;
        this.toBuild += event.build;
        this.downloadMiB += event.downloadMiB ?? 0;
        break;
      case 'fetching':
        this.fetched++;
        break;
      case 'building':
        this.built++;
        break;
      case 'log':
        this.tail.push(event.line);
        if (this.tail.length > LOG_TAIL_LINES) this.tail.shift();
        break;
    }
  }

  /** The last lines a builder printed (the useful part of a failed build's log). */
  logTail(count = LOG_TAIL_LINES): string[] {
    return this.tail.slice(-count);
  }

  summary(): string {
    if (this.phase !== 'realising') return this.phase;
    const parts: string[] = [];
    if (this.toFetch > 0) {
      parts.push(`fetching ${this.fetched}/${this.toFetch} paths (${this.downloadMiB.toFixed(1)} MiB to download)`);
    }
    if (this.toBuild > 0) parts.push(`building ${this.built}/${this.toBuild} derivations`);
    return parts.length > 0 ? `realising: ${parts.join(', ')}` : 'realising';
  }
}
