import type { PutOptions } from '../../src/core/ports/record-store.js';
import { StorePathsUnavailableError } from '../../src/core/errors.js';
import type { Clock } from '../../src/core/ports/clock.js';
import type { Logger } from '../../src/core/ports/logger.js';
import { mountPointOf, type Mounter, type MountOwner, type MountTarget, type OverlayDirs, type OwnMount } from '../../src/core/ports/mounter.js';
import type { Closure, ClosureAnswer, ClosureRegistration, Evaluation, NixStore, RealiseOptions } from '../../src/core/ports/nix-store.js';
import type { SweepResult, ViewContents, ViewStore } from '../../src/core/ports/view-store.js';
import type { HeldParent, HeldTarget, VolumeDirs, VolumeUsage } from '../../src/core/ports/volume-dirs.js';
import type { StageRecord, StageState } from '../../src/core/ports/stage-state.js';
import type { VolumeRecord, VolumeState } from '../../src/core/ports/volume-state.js';

/** The fake store's registration: which of its closure answers (by query count) it came with. */
export interface FakeRegistration extends ClosureRegistration {
  answer: number;
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
 * An in-memory node store: `valid` paths with their references; `cache` holds what a
 * realise can substitute; evaluations come from `expressions` and `flakes`, whose
 * outputs a realise "builds". Every call is counted; `realiseGate` holds realises open.
 */
export class FakeNixStore implements NixStore {
  readonly valid = new Map<string, string[]>();
  readonly cache = new Map<string, string[]>();
  readonly gcRoots = new Map<string, string[]>();
  readonly expressions = new Map<string, Evaluation>();
  readonly flakes = new Map<string, Evaluation>();
  readonly calls = { evaluate: 0, query: 0, realise: [] as Array<{ targets: string[]; mayBuild: boolean }>, push: [] as Array<{ uri: string; paths: string[] }> };
  realiseGate?: Deferred;
  realiseError?: Error;
  pushError?: Error;
  systemName = 'x86_64-linux';

  add(path: string, references: string[] = [], where: 'store' | 'cache' = 'store'): this {
    (where === 'store' ? this.valid : this.cache).set(path, references);
    return this;
  }

  async system(): Promise<string> {
    return this.systemName;
  }
  physicalPath(storePath: string): string {
    return storePath;
  }
  async queryClosure(roots: readonly string[]): Promise<ClosureAnswer> {
    this.calls.query++;
    const missing = roots.filter((path) => !this.valid.has(path));
    return missing.length > 0 ? { valid: false, missing } : { valid: true, closure: this.closureWithRegistration(roots) };
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
    const missing = targets.filter((target) => !evaluations.some((e) => e.target === target) && !this.cache.has(target));
    if (missing.length > 0) throw new StorePathsUnavailableError(missing, 'not in any cache');
    const bring = (path: string) => {
      if (this.valid.has(path)) return;
      const refs = this.cache.get(path) ?? [];
      this.valid.set(path, refs);
      refs.forEach(bring);
    };
    for (const target of targets) {
      const built = evaluations.find((e) => e.target === target);
      if (built) this.valid.set(built.output, []);
      else bring(target);
    }
  }
  async push(uri: string, paths: readonly string[]): Promise<void> {
    this.calls.push.push({ uri, paths: [...paths] });
    if (this.pushError) throw this.pushError;
  }
  /** Each answer carries a registration of its own, so a test can tell which one a view was registered with. */
  private closureWithRegistration(roots: readonly string[]): Closure {
    const paths = this.closureOf(roots);
    const registration: FakeRegistration = { size: paths.length, answer: this.calls.query };
    return { paths, registration };
  }
  private closureOf(roots: readonly string[]): string[] {
    const seen = new Set<string>();
    const visit = (path: string) => {
      if (seen.has(path)) return;
      seen.add(path);
      (this.valid.get(path) ?? []).forEach(visit);
    };
    roots.forEach(visit);
    return [...seen].sort();
  }
  /** What each writeRegistration was handed. */
  readonly registered: Array<{ closure: Closure; rootDir: string }> = [];
  async writeRegistration(closure: Closure, rootDir: string): Promise<void> {
    this.registered.push({ closure, rootDir });
  }
  async addGcRoots(holder: string, roots: readonly string[]): Promise<void> {
    this.gcRoots.set(holder, [...roots]);
  }
  async removeGcRoots(holder: string): Promise<void> {
    this.gcRoots.delete(holder);
  }
  /** Paths a garbage collection took: gone from the store, so reported missing. */
  readonly collected = new Set<string>();
  async missingPaths(paths: readonly string[]): Promise<string[]> {
    return paths.filter((path) => this.collected.has(path));
  }
  async gcRootHolders(): Promise<string[]> {
    return [...this.gcRoots.keys()];
  }
  async check(): Promise<void> {}
}

export class FakeViewStore implements ViewStore {
  readonly views = new Map<string, ViewContents>();
  materializeCalls = 0;
  failNextMaterialize?: Error;

  nixDir(key: string): string {
    return `/views/${key}/nix`;
  }
  async exists(key: string): Promise<boolean> {
    return this.views.has(key);
  }
  async materialize(key: string, contents: ViewContents): Promise<void> {
    this.materializeCalls++;
    await new Promise((resolve) => setImmediate(resolve)); // builds take time: let concurrent callers interleave
    if (this.failNextMaterialize) {
      const error = this.failNextMaterialize;
      this.failNextMaterialize = undefined;
      throw error;
    }
    this.views.set(key, contents);
  }
  async remove(key: string): Promise<void> {
    this.views.delete(key);
  }
  async list(): Promise<string[]> {
    return [...this.views.keys()];
  }
  async rootsOf(key: string): Promise<string[]> {
    return [...(this.views.get(key)?.roots ?? [])];
  }
  async sweepLeftovers(): Promise<SweepResult> {
    return { removed: [], left: [] };
  }
}

/** One mount per target; views live at /views/<key>/nix and overlays at /overlays/<key> (as the fakes make them). */
export class FakeMounter implements Mounter {
  readonly mounts = new Map<string, { source: string; readonly: boolean; flags: readonly string[]; upper?: string; foreign?: string }>();
  failNextMount?: Error;

  async bindReadOnly(source: string, target: MountTarget, extraFlags: readonly string[] = []): Promise<void> {
    this.take();
    this.mounts.set(mountPointOf(target).path, { source, readonly: true, flags: extraFlags });
  }
  async overlay(dirs: OverlayDirs, target: MountTarget, extraFlags: readonly string[] = []): Promise<void> {
    this.take();
    this.mounts.set(mountPointOf(target).path, { source: dirs.lower, readonly: false, flags: extraFlags, upper: dirs.upper });
  }
  /** Someone else's mount (an administrator's tmpfs). */
  mountForeign(target: string, description = 'tmpfs tmpfs'): void {
    this.mounts.set(target, { source: description, readonly: false, flags: [], foreign: description });
  }
  async unmount(target: string): Promise<void> {
    this.mounts.delete(target);
  }
  async mountIdAt(target: string): Promise<number | undefined> {
    return this.mounts.has(target) ? [...this.mounts.keys()].indexOf(target) + 1 : undefined;
  }
  async unmountById(mountId: number): Promise<boolean> {
    const target = [...this.mounts.keys()][mountId - 1];
    if (target === undefined) return false;
    this.mounts.delete(target);
    return true;
  }
  async mountsOf(owner: Exclude<MountOwner, { kind: 'foreign' }>): Promise<Array<{ mountId: number; mountPoint: string }>> {
    return [...this.mounts.entries()]
      .map(([mountPoint, mount], index) => ({ mountPoint, mountId: index + 1, found: attribute(mount) }))
      .filter(({ found }) => found.kind === owner.kind && (found.kind === 'overlay' ? owner.kind === 'overlay' && found.volumeKey === owner.volumeKey : found.kind === 'view' && owner.kind === 'view' && found.viewKey === owner.viewKey))
      .map(({ mountPoint, mountId }) => ({ mountPoint, mountId }));
  }
  async mountsAt(target: string): Promise<MountOwner[]> {
    const mount = this.mounts.get(target);
    return mount ? [attribute(mount)] : [];
  }
  /** Views whose read-only bind was released, in order. */
  readonly released: string[] = [];
  async releaseView(viewKey: string): Promise<void> {
    this.released.push(viewKey);
  }
  async sweep(): Promise<number> {
    return 0;
  }
  async topAt(target: string): Promise<MountOwner | undefined> {
    return (await this.mountsAt(target)).at(-1);
  }
  async ownMounts(): Promise<OwnMount[]> {
    const own: OwnMount[] = [];
    for (const [mountPoint, mount] of this.mounts) {
      const owner = attribute(mount);
      if (owner.kind !== 'foreign') own.push({ mountPoint, owner });
    }
    return own;
  }
  private take(): void {
    if (this.failNextMount) {
      const error = this.failNextMount;
      this.failNextMount = undefined;
      throw error;
    }
  }
}

function attribute(mount: { source: string; upper?: string; foreign?: string }): MountOwner {
  if (mount.foreign) return { kind: 'foreign', description: mount.foreign };
  const viewKey = /^\/views\/([^/]+)\/nix$/.exec(mount.source)?.[1];
  const volumeKey = mount.upper ? /^\/overlays\/([^/]+)\/upper$/.exec(mount.upper)?.[1] : undefined;
  if (volumeKey) return { kind: 'overlay', volumeKey, ...(viewKey ? { viewKey } : {}) };
  if (viewKey) return { kind: 'view', viewKey };
  return { kind: 'foreign', description: mount.source };
}

export class FakeVolumeDirs implements VolumeDirs {
  readonly targets = new Set<string>();
  readonly overlays = new Set<string>();
  /** Holds createTarget open (a publish past its checks, before its record), to catch a call racing it. */
  createTargetGate?: Deferred;
  createTargetCalls = 0;

  async holdTarget(targetPath: string): Promise<HeldTarget> {
    return {
      path: targetPath,
      create: async () => {
        this.createTargetCalls++;
        await this.createTargetGate?.promise;
        const created = !this.targets.has(targetPath);
        this.targets.add(targetPath);
        return { created, mountPoint: { path: targetPath, at: targetPath } };
      },
      release: () => undefined,
    };
  }
  async holdExisting(targetPath: string): Promise<HeldParent> {
    return { path: targetPath, release: () => undefined };
  }
  async removeTarget(targetPath: string): Promise<void> {
    this.targets.delete(targetPath);
  }
  async createOverlay(key: string, lower: string) {
    this.overlays.add(key);
    return { dir: `/overlays/${key}`, lower, upper: `/overlays/${key}/upper`, work: `/overlays/${key}/work` };
  }
  async removeOverlay(key: string): Promise<void> {
    this.overlays.delete(key);
  }
  async listOverlays(): Promise<string[]> {
    return [...this.overlays];
  }
  async usage(): Promise<VolumeUsage> {
    return { bytesTotal: 100, bytesAvailable: 40, bytesUsed: 60, inodesTotal: 10, inodesFree: 4, inodesUsed: 6 };
  }
}

class MemoryRecords<T extends { key: string }> {
  readonly records = new Map<string, T>();
  async load(): Promise<void> {}
  get(key: string): T | undefined {
    return this.records.get(key);
  }
  list(): T[] {
    return [...this.records.values()];
  }
  async put(record: T): Promise<void> {
    this.records.set(record.key, record);
  }
  find(matches: (record: T) => boolean): T | undefined {
    return [...this.records.values()].find(matches);
  }
  /** Whether each putThen asked for a durable write, in order. */
  readonly durability: boolean[] = [];
  // Through put, so a test that replaces it (a failing disk) fails this too.
  async putThen<R>(record: T, next: () => Promise<R>, options: PutOptions = {}): Promise<R> {
    this.durability.push(options.durable ?? true);
    await this.put(record);
    return next();
  }
  async delete(key: string): Promise<void> {
    this.records.delete(key);
  }
}

export class MemoryVolumeState extends MemoryRecords<VolumeRecord> implements VolumeState {}

export class MemoryStageState extends MemoryRecords<StageRecord> implements StageState {}

export class FakeClock implements Clock {
  constructor(public ms = Date.UTC(2026, 0, 1)) {}
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
