import { inject, injectable } from 'inversify';
import { Clock } from './ports/clock.js';
import { Logger } from './ports/logger.js';
import { NixStore } from './ports/nix-store.js';
import { ViewStore } from './ports/view-store.js';
import { StageState } from './ports/stage-state.js';
import { VolumeState } from './ports/volume-state.js';
import { FailedPreconditionError } from './errors.js';
import { KeyedMutex } from './keyed-mutex.js';
import { viewKey } from './view-key.js';

export interface AcquiredView {
  key: string;
  nixDir: string;
  /** True only for the caller whose request built the view. */
  built: boolean;
}

/**
 * Owns the views: builds each closure's view once (concurrent requests share the
 * build), tracks who holds a view, and collects views nobody holds.
 *
 * Holders are durable volume and stage records plus in-memory leases taken by publishes in
 * flight, so a collection can never remove a view between its build and the
 * record that holds it.
 */
@injectable()
export class ViewManager {
  private readonly perView = new KeyedMutex();
  private readonly leases = new Map<string, number>();
  private readonly idleSince = new Map<string, number>();

  constructor(
    @inject(NixStore) private readonly nix: NixStore,
    @inject(ViewStore) private readonly views: ViewStore,
    @inject(VolumeState) private readonly state: VolumeState,
    @inject(StageState) private readonly stages: StageState,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly log: Logger,
  ) {}

  /** Finds or builds the view of `roots`' closure and takes a lease on it; call `release` after. */
  async acquire(roots: readonly string[]): Promise<AcquiredView> {
    const closure = await this.nix.closure(roots);
    const key = viewKey(roots, closure);
    this.leases.set(key, (this.leases.get(key) ?? 0) + 1);
    this.idleSince.delete(key);
    let built = false;
    try {
      await this.perView.run(key, async () => {
        if (await this.views.exists(key)) return;
        built = true;
        await this.build(key, roots, closure);
      });
    } catch (error) {
      this.release(key);
      throw error;
    }
    return { key, nixDir: this.views.nixDir(key), built };
  }

  /**
   * Takes a lease on a view that must already exist (a staged view a publish
   * mounts without resolving again); call `release` after.
   */
  async acquireExisting(key: string): Promise<AcquiredView> {
    this.leases.set(key, (this.leases.get(key) ?? 0) + 1);
    this.idleSince.delete(key);
    const exists = await this.perView.run(key, () => this.views.exists(key));
    if (!exists) {
      this.release(key);
      throw new FailedPreconditionError(`view ${key} is gone; stage the volume again`);
    }
    return { key, nixDir: this.views.nixDir(key), built: false };
  }

  release(key: string): void {
    const remaining = (this.leases.get(key) ?? 1) - 1;
    if (remaining > 0) {
      this.leases.set(key, remaining);
      return;
    }
    this.leases.delete(key);
    if (!this.isHeld(key)) this.idleSince.set(key, this.clock.now().getTime());
  }

  /** A volume record holding `key` is gone; the view's idle period may start. */
  noteRecordDropped(key: string): void {
    if (!this.isHeld(key)) this.idleSince.set(key, this.clock.now().getTime());
  }

  nixDir(key: string): string {
    return this.views.nixDir(key);
  }

  isHeld(key: string): boolean {
    return (
      (this.leases.get(key) ?? 0) > 0 ||
      this.state.list().some((record) => record.viewKey === key) ||
      this.stages.list().some((record) => record.viewKey === key)
    );
  }

  /** Removes `key` now if nobody holds it (used to undo a failed publish that built it). */
  collectIfUnheld(key: string): Promise<boolean> {
    return this.removeIfUnheld(key);
  }

  /**
   * Removes every view nobody holds that has been idle at least `minIdleMs`.
   * Views found unheld for the first time start their idle period now.
   */
  async collect(minIdleMs: number): Promise<string[]> {
    const now = this.clock.now().getTime();
    const removed: string[] = [];
    for (const key of await this.views.list()) {
      if (this.isHeld(key)) {
        this.idleSince.delete(key);
        continue;
      }
      const since = this.idleSince.get(key) ?? now;
      this.idleSince.set(key, since);
      if (now - since < minIdleMs) continue;
      if (await this.removeIfUnheld(key)) removed.push(key);
    }
    return removed;
  }

  private async build(key: string, roots: readonly string[], closure: readonly string[]): Promise<void> {
    const started = this.clock.now().getTime();
    this.log.info({ view: key, roots, paths: closure.length }, 'building view');
    await this.views.materialize(key, {
      roots,
      paths: closure.map((storePath) => ({ storePath, physicalPath: this.nix.physicalPath(storePath) })),
      register: (rootDir) => this.nix.writeRegistration(closure, rootDir),
    });
    try {
      await this.nix.addGcRoots(key, roots);
    } catch (error) {
      await this.views.remove(key);
      throw error;
    }
    this.log.info({ view: key, ms: this.clock.now().getTime() - started }, 'view ready');
  }

  /** Holders are checked again under the view's mutex: a publish may have taken a lease meanwhile. */
  private removeIfUnheld(key: string): Promise<boolean> {
    return this.perView.run(key, async () => {
      if (this.isHeld(key)) return false;
      this.idleSince.delete(key);
      await this.views.remove(key);
      await this.nix.removeGcRoots(key);
      this.log.info({ view: key }, 'view collected');
      return true;
    });
  }
}
