import { inject, injectable } from 'inversify';
import { Clock } from './ports/clock.js';
import { Logger } from './ports/logger.js';
import { Mounter } from './ports/mounter.js';
import { NixStore } from './ports/nix-store.js';
import { NodeEvents } from './ports/node-events.js';
import { MountBudget } from './ports/mount-budget.js';
import { ViewStore } from './ports/view-store.js';
import { BindFarmUnavailableError, FailedPreconditionError, UnavailableError } from './errors.js';
import { quoteList } from './quote.js';
import { KeyedMutex } from './keyed-mutex.js';
import { RootedClosures, type PreparedRoots } from './rooted-closures.js';
import { viewKey } from './view-key.js';
import { NodeSettings } from './settings.js';
import { choosePresentation, type Presentation, type PresentationChoice } from './view-presentation.js';

export interface AcquiredView {
  key: string;
  nixDir: string;
  /** True only for the caller whose request built the view. */
  built: boolean;
}

/** The records that hold views: a published volume's, or a staged volume's. */
export type HolderKind = 'volume' | 'stage';

/** One durable record holding a view: its kind and its key (unique within its kind). */
export interface ViewHolder {
  kind: HolderKind;
  key: string;
}

export interface AcquireOptions {
  /** The volume is written through an overlay (the view is its lower): never a bind farm. */
  writable?: boolean;
}

/**
 * Owns the views: builds each closure's view once (concurrent requests share the
 * build), is the one place that knows who holds a view, and collects views nobody holds.
 *
 * Holders are durable volume and stage records, registered here by whoever writes and
 * deletes them (the mount lifecycle, and recovery for the records found at start:
 * `hold`, `drop`, `adoptHolds`); in-memory leases taken by calls in flight (so a
 * collection can never remove a view between its build and the record that holds it);
 * and any mount of the view the mount table shows, whatever the records say: a
 * workload using a view keeps it even if its record was lost. Whoever asks whether a
 * view is in use asks `isHeld`; no one reads the record stores for it.
 */
@injectable()
export class ViewManager {
  private readonly perView = new KeyedMutex();
  private readonly leases = new Map<string, number>();
  private readonly idleSince = new Map<string, number>();
  /** The end of the last caller's turn at the mount budget (see choose). */
  private budgetTurn: Promise<unknown> = Promise.resolve();
  /** Per view, the records holding it (`kind:key`). */
  private readonly holders = new Map<string, Set<string>>();

  constructor(
    @inject(NixStore) private readonly nix: NixStore,
    @inject(ViewStore) private readonly views: ViewStore,
    @inject(Mounter) private readonly mounter: Mounter,
    @inject(RootedClosures) private readonly rooted: RootedClosures,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly log: Logger,
    @inject(NodeEvents) private readonly events: NodeEvents,
    @inject(NodeSettings) private readonly settings: NodeSettings,
    @inject(MountBudget) private readonly budget: MountBudget,
  ) {}

  /**
   * Finds or builds the view of a closure, presented as the volume allows and the
   * mount budget fits (see view-presentation.ts), and takes a lease on it; call
   * `release` after. With --view-mode auto, a bind farm that cannot be built (the
   * node refuses the mounts) falls back to hardlinks.
   */
  async acquire(prepared: PreparedRoots, options: AcquireOptions = {}): Promise<AcquiredView> {
    const { choice, settle } = await this.choose(prepared, options.writable ?? false);
    let view: AcquiredView;
    try {
      view = await this.acquireAs(prepared, choice.presentation, choice);
    } catch (error) {
      settle();
      if (!(error instanceof BindFarmUnavailableError) || (this.settings.viewMode ?? 'auto') !== 'auto') throw error;
      this.log.warn({ err: error, paths: prepared.closure.length }, 'bind-farm view could not be built; falling back to hardlinks');
      view = await this.acquireAs(prepared, 'hardlink', { presentation: 'hardlink', reason: 'bind-farm-failed' });
      this.events.emit({ kind: 'view-presentation', presentation: 'hardlink', reason: 'bind-farm-failed' });
      return view;
    }
    settle();
    this.events.emit({
      kind: 'view-presentation', presentation: choice.presentation, reason: choice.reason,
      ...(choice.needed !== undefined ? { mountsNeeded: choice.needed } : {}),
      ...(choice.available !== undefined ? { mountsAvailable: choice.available } : {}),
    });
    return view;
  }

  /**
   * The presentation for this closure and volume (see choosePresentation for the order),
   * and for a bind farm a claim on the mounts it adds, which `settle` ends once they are
   * made. Readings and claims are taken one caller at a time, so a burst of publishes
   * deciding at once cannot each count the same free room.
   */
  private async choose(prepared: PreparedRoots, writable: boolean): Promise<{ choice: PresentationChoice; settle: () => void }> {
    const mode = this.settings.viewMode ?? 'auto';
    const paths = prepared.closure.length;
    const unclaimed = () => undefined;
    if (mode === 'hardlink' || writable) return { choice: choosePresentation({ mode, writable, paths, farmExists: false }), settle: unclaimed };
    const farmExists = await this.views.exists(viewKey(prepared.roots, prepared.closure, 'bind-farm'));
    const turn = this.budgetTurn.then(async () => {
      const count = await this.budget.count();
      const choice = choosePresentation({ mode, writable, paths, farmExists, count });
      if (choice.reason === 'over-budget') {
        this.log.warn({ paths, mountsNeeded: choice.needed, mountsAvailable: choice.available, mountMax: count.max, mountsUsed: count.used }, 'a bind farm would exceed the mount budget; the volume gets a hardlink view');
      }
      const settle = choice.presentation === 'bind-farm' && choice.needed ? this.budget.claim(choice.needed) : unclaimed;
      return { choice, settle };
    });
    this.budgetTurn = turn.catch(() => undefined);
    return turn;
  }

  private async acquireAs(prepared: PreparedRoots, presentation: Presentation, choice: Pick<PresentationChoice, 'presentation'> & { reason: string }): Promise<AcquiredView> {
    const { roots, closure } = prepared;
    const key = viewKey(roots, closure, presentation);
    this.leases.set(key, (this.leases.get(key) ?? 0) + 1);
    this.idleSince.delete(key);
    let built = false;
    try {
      await this.perView.run(key, async () => {
        if (!(await this.views.exists(key))) {
          built = true;
          if ((await this.views.list()).includes(key)) {
            // Its directory is there but not complete: its files were removed from under it
            // (the state dir's content wiped) while volumes may still be mounted from it. It is
            // made whole in place, and the read-only bind kept for it is made again after.
            this.log.warn({ view: key }, 'view lost its files (was the state directory\'s content removed?); making it whole again in place');
            await this.mounter.releaseView(key);
          }
          await this.build(key, prepared, choice);
        }
        this.rooted.remember(prepared, key);
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

  /**
   * A record holding view `key` is about to be written: from now on the view is held
   * by it until `drop`. Called before the record's write, so no instant exists at
   * which the record is on disk and the view unheld.
   */
  hold(key: string, holder: ViewHolder): void {
    const holders = this.holders.get(key) ?? new Set<string>();
    holders.add(holderId(holder));
    this.holders.set(key, holders);
    this.idleSince.delete(key);
  }

  /** The record `holder` no longer holds view `key` (it is deleted, or was never written); the view's idle period may start. */
  drop(key: string, holder: ViewHolder): void {
    const holders = this.holders.get(key);
    holders?.delete(holderId(holder));
    if (holders?.size === 0) this.holders.delete(key);
    this.noteUnused(key);
  }

  /**
   * The holds of the records found at start (replacing any this process had): called by
   * recovery once the records are loaded, before any view could be collected.
   */
  adoptHolds(holds: Iterable<ViewHolder & { viewKey: string }>): void {
    this.holders.clear();
    for (const { viewKey, ...holder } of holds) this.hold(viewKey, holder);
  }

  /** A mount of view `key` is gone (one no record held); the view's idle period may start. */
  noteUnused(key: string): void {
    if (!this.isHeld(key)) this.idleSince.set(key, this.clock.now().getTime());
  }

  nixDir(key: string): string {
    return this.views.nixDir(key);
  }

  /** Leases of calls in flight: between them a view may be built whose closure is not rooted yet. */
  callsInFlight(): number {
    let sum = 0;
    for (const count of this.leases.values()) sum += count;
    return sum;
  }

  /** Held by a call in flight or a record; `mounted` adds the views the mount table shows in use. */
  isHeld(key: string, mounted: ReadonlySet<string> = new Set()): boolean {
    return (
      (this.leases.get(key) ?? 0) > 0 ||
      mounted.has(key) ||
      this.holders.has(key)
    );
  }

  /**
   * After a restart: clears what a crash left half-done and makes GC roots and views
   * agree — a root whose view is gone is dropped, and every view is rooted again (a
   * crash may have come between its roots and its rename, and re-rooting also tells
   * the store which closures it may answer from memory).
   */
  async reconcile(): Promise<void> {
    await this.sweep();
    const views = await this.views.list();
    const present = new Set(views);
    for (const holder of await this.nix.gcRootHolders()) {
      if (present.has(holder)) continue;
      await this.nix.removeGcRoots(holder);
      this.log.warn({ holder }, 'removed GC roots whose view is gone');
    }
    // Re-rooted 32 views at a time: each holder's roots are its own names, and nothing runs on a view yet.
    for (let i = 0; i < views.length; i += 32) {
      await Promise.all(
        views.slice(i, i + 32).map(async (key) => {
          const roots = await this.views.rootsOf(key);
          if (roots.length === 0) {
            this.log.warn({ view: key }, 'view without roots (nix/var/result) left unrooted; it is collected when unused');
            return;
          }
          await this.nix.addGcRoots(key, roots);
        }),
      );
    }
  }

  /**
   * Drops the GC roots of views whose directories are gone while this process runs (the
   * state dir's content removed from under it): nothing would ever collect them. A view
   * being built has its roots before its directory is in place, and a lease: it is skipped.
   * Answers the holders whose roots were dropped.
   */
  async dropRootsOfVanishedViews(): Promise<string[]> {
    const dropped: string[] = [];
    for (const holder of await this.nix.gcRootHolders()) {
      // A call in flight holds it (perhaps building it, under its mutex): not waited for.
      if ((this.leases.get(holder) ?? 0) > 0) continue;
      await this.perView.run(holder, async () => {
        if ((this.leases.get(holder) ?? 0) > 0 || (await this.views.list()).includes(holder)) return;
        this.rooted.forgetView(holder);
        this.idleSince.delete(holder);
        await this.nix.removeGcRoots(holder);
        dropped.push(holder);
      });
    }
    if (dropped.length > 0) this.log.warn({ holders: dropped }, 'removed GC roots whose view is gone');
    return dropped;
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
    await this.sweep();
    const now = this.clock.now().getTime();
    const removed: string[] = [];
    const mounted = await this.mountedViews();
    for (const key of await this.views.list()) {
      if (this.isHeld(key, mounted)) {
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

  private async build(key: string, prepared: PreparedRoots, choice: Pick<PresentationChoice, 'presentation'> & { reason: string }): Promise<void> {
    const { roots, closure, registration } = prepared;
    const started = this.clock.now().getTime();
    const { presentation, reason } = choice;
    this.log.info({ view: key, roots, paths: closure.length, presentation, presentationReason: reason }, 'building view');
    try {
      // Rooted before a file is linked, and so before the view can become visible: a
      // collection under way or starting meanwhile keeps the closure from here on. What a
      // collection deleted before is gone (the closure of a valid root is whole, so the
      // roots say it); the caller's retry realises it again.
      await this.nix.addGcRoots(key, roots);
      const missing = await this.nix.missingPaths(roots);
      if (missing.length > 0) {
        throw new UnavailableError(`a garbage collection of the node store deleted ${quoteList(missing)} while the volume was prepared; retry`);
      }
      await this.views.materialize(key, {
        presentation,
        roots,
        paths: closure.map((storePath) => ({ storePath, physicalPath: this.nix.physicalPath(storePath) })),
        register: (rootDir) => this.nix.writeRegistration({ paths: closure, ...(registration ? { registration } : {}) }, rootDir, roots),
      });
    } catch (error) {
      // Roots of a view that never became visible go with it (a restart would drop them too).
      if (!(await this.views.exists(key))) {
        await this.nix.removeGcRoots(key).catch((e: unknown) => this.log.error({ err: e, view: key }, 'dropping roots of a failed view failed'));
      }
      throw error;
    }
    const ms = this.clock.now().getTime() - started;
    this.log.info({ view: key, ms, presentation }, 'view ready');
    this.events.emit({ kind: 'view-built', viewKey: key, paths: closure.length, seconds: ms / 1000, presentation });
  }

  /**
   * Holders are checked again under the view's mutex, with a fresh reading of the
   * mount table: a publish may have taken a lease meanwhile. The view stops being
   * visible before its roots go, so a crash in between leaves only roots, which the
   * next start drops.
   */
  private removeIfUnheld(key: string): Promise<boolean> {
    return this.perView.run(key, async () => {
      // Records and leases first: the mount table is read only for a view they leave unheld.
      if (this.isHeld(key) || this.isHeld(key, await this.mountedViews())) return false;
      this.idleSince.delete(key);
      this.rooted.forgetView(key);
      await this.mounter.releaseView(key);
      await this.views.remove(key);
      await this.nix.removeGcRoots(key);
      this.log.info({ view: key }, 'view collected');
      this.events.emit({ kind: 'view-removed', viewKey: key });
      return true;
    });
  }

  private async mountedViews(): Promise<Set<string>> {
    const keys = new Set<string>();
    for (const { owner } of await this.mounter.ownMounts()) if (owner.viewKey) keys.add(owner.viewKey);
    return keys;
  }

  /** Half-built or half-deleted views of an earlier run; one an orphaned writer still fills is retried next time. */
  private async sweep(): Promise<void> {
    const { removed, left, repaired = [] } = await this.views.sweepLeftovers();
    if (repaired.length > 0) this.log.warn({ views: repaired }, 'bound the store paths of bind-farm views again (their mounts were gone)');
    if (removed.length > 0) this.log.warn({ leftovers: removed }, 'removed half-built or half-deleted views of an earlier run');
    if (left.length > 0) this.log.warn({ leftovers: left }, 'leftover views still in use by another process; retrying later');
  }
}

function holderId(holder: ViewHolder): string {
  return `${holder.kind}:${holder.key}`;
}
