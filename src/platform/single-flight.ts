/**
 * Identical queries in flight at the same time share one answer: fifty publishes
 * of one closure arriving together ask Nix once, not fifty times (each Nix process
 * costs ~30 ms of start-up, and a node may have two cores). A query that starts
 * after the shared one settled runs afresh.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  run(key: string, query: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running;
    const started = query().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }
}
