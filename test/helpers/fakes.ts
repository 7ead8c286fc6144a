import type { Clock } from '../../src/core/ports/clock.js';
import type { Evaluation, NixStore, RealiseOptions } from '../../src/core/ports/nix-store.js';

/** A clock that moves only when told to. */
export class FakeClock implements Clock {
  private ms = Date.UTC(2026, 0, 1);

  now(): Date {
    return new Date(this.ms);
  }

  advance(ms: number): void {
    this.ms += ms;
  }
}

/** A promise resolved or rejected from outside, to hold work in flight. */
export class Deferred<T = void> {
  resolve!: (value: T) => void;
  reject!: (error: unknown) => void;
  readonly promise = new Promise<T>((resolve, reject) => {
    this.resolve = resolve;
    this.reject = reject;
  });
}

/**
 * An in-memory node store: `valid` paths exist; evaluations come from `expressions`
 * and `flakes`; every call is counted. `realiseGate`, when set, holds realises until resolved.
 */
export class FakeNixStore implements NixStore {
  readonly storeDir = '/nix/store';
  readonly valid = new Set<string>();
  readonly expressions = new Map<string, Evaluation>();
  readonly flakes = new Map<string, Evaluation>();
  readonly calls = { evaluate: 0, realise: [] as Array<{ targets: string[]; mayBuild: boolean }>, push: [] as Array<{ uri: string; paths: string[] }> };
  realiseGate?: Deferred;
  realiseError?: Error;
  pushError?: Error;
  systemName = 'x86_64-linux';

  async system(): Promise<string> {
    return this.systemName;
  }

  physicalPath(storePath: string): string {
    return storePath;
  }

  async invalidPaths(paths: readonly string[]): Promise<string[]> {
    return paths.filter((path) => !this.valid.has(path));
  }

  async substitute(paths: readonly string[]): Promise<void> {
    for (const path of paths) this.valid.add(path);
  }

  async evaluateExpression(text: string): Promise<Evaluation> {
    this.calls.evaluate++;
    const evaluation = this.expressions.get(text);
    if (!evaluation) throw new Error(`fake: no evaluation for expression ${text}`);
    return evaluation;
  }

  async evaluateFlake(ref: string): Promise<Evaluation> {
    this.calls.evaluate++;
    const evaluation = this.flakes.get(ref);
    if (!evaluation) throw new Error(`fake: no evaluation for flake ${ref}`);
    return evaluation;
  }

  async realise(targets: readonly string[], options: RealiseOptions): Promise<void> {
    this.calls.realise.push({ targets: [...targets], mayBuild: options.mayBuild });
    options.onEvent?.({ kind: 'plan', fetch: targets.length, build: 0, downloadMiB: 1.5 });
    options.onEvent?.({ kind: 'fetching', path: targets[0]!, from: 'http://cache' });
    await this.realiseGate?.promise;
    if (this.realiseError) throw this.realiseError;
    const evaluations = [...this.expressions.values(), ...this.flakes.values()];
    for (const target of targets) this.valid.add(evaluations.find((e) => e.target === target)?.output ?? target);
  }

  async push(uri: string, paths: readonly string[]): Promise<void> {
    this.calls.push.push({ uri, paths: [...paths] });
    if (this.pushError) throw this.pushError;
  }

  async closure(roots: readonly string[]): Promise<string[]> {
    return [...roots].sort();
  }

  async writeRegistration(): Promise<void> {}

  async addGcRoots(): Promise<void> {}

  async removeGcRoots(): Promise<void> {}

  async check(): Promise<void> {}
}
