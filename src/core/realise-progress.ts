import type { RealiseEvent } from './ports/nix-store.js';

/** What one evaluation+realisation has done so far, for retry messages and logs. */
export class RealiseProgress {
  phase: 'evaluating' | 'checking' | 'realising' | 'pushing' = 'evaluating';
  private toFetch = 0;
  private toBuild = 0;
  private downloadMiB = 0;
  // Counted when Nix starts a path: its legacy output does not say when one ends.
  private fetched = 0;
  private built = 0;

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
        break; // a failed build's last lines travel with its BuildFailedError (RealiseOutput keeps them)
    }
  }

  /** What Nix started so far: paths fetched, derivations built, and the download it announced. */
  counts(): { fetched: number; built: number; downloadMiB: number } {
    return { fetched: this.fetched, built: this.built, downloadMiB: this.downloadMiB };
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
