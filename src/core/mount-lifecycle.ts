import { inject, injectable } from 'inversify';
import { FailedPreconditionError } from './errors.js';
import { Logger } from './ports/logger.js';
import { Mounter, type MountOwner, type OwnMount } from './ports/mounter.js';
import { VolumeDirs, type HeldTarget } from './ports/volume-dirs.js';
import { NodeSettings } from './settings.js';
import { ViewManager, type AcquiredView, type HolderKind } from './view-manager.js';
import type { PutOptions } from './ports/record-store.js';
import { volumeKey } from './view-key.js';
import { quote } from './quote.js';

/** What every durable record of a mount (a publish or a stage) says about what it holds. */
export interface Holding {
  key: string;
  volumeId: string;
  viewKey: string;
  overlayDir?: string;
  createdPath?: boolean;
  mountId?: number;
}

/** The part of a record store the lifecycle writes through, and the kind of its records (which the view manager is told hold a view). */
export interface RecordWriter<R> {
  readonly kind: HolderKind;
  putThen<T>(record: R, next: () => Promise<T>, options?: PutOptions): Promise<T>;
  delete(key: string): Promise<void>;
}

/** `store` written through by the lifecycle as records of `kind`. */
export function recordWriter<R>(kind: HolderKind, store: Omit<RecordWriter<R>, 'kind'>): RecordWriter<R> {
  return { kind, putThen: (record, next, options) => store.putThen(record, next, options), delete: (key) => store.delete(key) };
}

export interface AttachPlan<R extends Holding> {
  /** Canonical path to mount at (the adapter checked it). */
  path: string;
  /** That path's parent, held since the request was checked (see `hold`); the caller releases it. */
  held: HeldTarget;
  /** The view to mount, leased by the caller; attach releases the lease (and, on failure, a view the call built).  */
  view: AcquiredView;
  readonly: boolean;
  flags: readonly string[];
  records: RecordWriter<R>;
  /** The record to write, given what this call created. */
  record: (made: { key: string; createdPath: boolean; overlayDir?: string }) => R;
}

// Stacked mounts of ours at one path (a crash between a mount and its record, retried) come off one by one.
const MAX_STACK = 8;

/**
 * The one lifecycle of a mount, shared by publish and stage: create the directory,
 * write the record, mount; and the reverse. It touches only what it can prove is
 * nixmount's own: mounts the mount table attributes to its views or overlays, and
 * directories a record says it created. Every failure undoes what the call did.
 */
@injectable()
export class MountLifecycle {
  constructor(
    @inject(Mounter) private readonly mounter: Mounter,
    @inject(VolumeDirs) private readonly dirs: VolumeDirs,
    @inject(ViewManager) private readonly views: ViewManager,
    @inject(NodeSettings) private readonly settings: NodeSettings,
    @inject(Logger) private readonly log: Logger,
  ) {}

  /**
   * Whether `record`'s own mount is what `path` shows now. A foreign mount on top is
   * FAILED_PRECONDITION: nothing nixmount does there could be right.
   */
  async isMounted(path: string, record: Holding): Promise<boolean> {
    const top = await this.mounter.topAt(path);
    if (!top) return false;
    if (top.kind === 'foreign') throw foreignMount(path, top);
    return top.kind === 'view' ? !record.overlayDir && top.viewKey === record.viewKey : top.volumeKey === record.key;
  }

  /**
   * Holds the parent of `path` (canonical, just checked by the adapter) for an attach to
   * come: everything the attach does goes through the held directory, never through the
   * path again, so a directory on it swapped for a symlink while the closure is realised
   * and its view built cannot move the mount or the new directory outside the
   * orchestrator's tree. Call it first, before anything slow; release it when done.
   */
  hold(path: string): Promise<HeldTarget> {
    return this.dirs.holdTarget(path);
  }

  async attach<R extends Holding>(plan: AttachPlan<R>, log: Logger = this.log): Promise<R> {
    const { path, view, held } = plan;
    const key = volumeKey(path);
    const undo: Array<() => Promise<unknown>> = [];
    try {
      // A mount of ours without a record (its record was unreadable and set aside) is
      // replaced; anyone else's mount is never mounted over.
      await this.unmountOwn(held.path, log, { shown: path });
      const { created: createdPath, mountPoint } = await held.create();
      if (createdPath) undo.push(() => this.dirs.removeTarget(held.path));
      let overlayDir: string | undefined;
      if (!plan.readonly) {
        const overlay = await this.dirs.createOverlay(key, view.nixDir);
        undo.push(() => this.dirs.removeOverlay(key));
        overlayDir = overlay.dir;
      }
      const record = plan.record({ key, createdPath, ...(overlayDir ? { overlayDir } : {}) });
      // The view is held by the record from before its write until its delete (see ViewManager.hold).
      const holder = { kind: plan.records.kind, key };
      this.views.hold(view.key, holder);
      undo.push(async () => this.views.drop(view.key, holder));
      // The record is in place before the mount: a crash in between leaves a record
      // that a retry or an unpublish cleans up, never a mount nobody knows about.
      // A writable volume's record is made durable (synced, overlapping the mount)
      // before the call answers: it is what proves the overlay's upper directory,
      // the workload's data, is a volume's and not left over (recovery removes
      // overlays without one). A read-only volume's record is not synced: all it
      // describes is a bind, which a power loss takes with it; a record a power
      // loss then loses or empties leaves nothing mounted and nothing to keep
      // (an empty file is set aside at load), and the view it held goes idle.
      const mountId = await plan.records.putThen(record, async () => {
        undo.push(() => plan.records.delete(key));
        undo.push(() => this.unmountOwn(held.path, log, { shown: path })); // a mount command can fail half-way (bound, then not remounted read-only)
        if (overlayDir) {
          await this.mounter.overlay({ lower: view.nixDir, upper: `${overlayDir}/upper`, work: `${overlayDir}/work` }, mountPoint, plan.flags);
        } else {
          await this.mounter.bindReadOnly(view.nixDir, mountPoint, plan.flags);
        }
        return this.mounter.mountIdAt(held.path);
      }, { durable: Boolean(overlayDir) });
      // The mount's id, written once it exists: should a directory on the path be swapped
      // for a symlink later, it is how the unpublish finds this mount (see detachMoved).
      // A crash before this write leaves a record without it, which unpublishes as before.
      const recorded = mountId === undefined ? record : { ...record, mountId };
      if (mountId !== undefined) await plan.records.putThen(recorded, async () => undefined, { durable: Boolean(overlayDir) });
      this.views.release(view.key);
      return recorded;
    } catch (error) {
      for (const step of undo.reverse()) {
        await step().catch((e: unknown) => log.error({ err: e, path }, 'rollback step failed'));
      }
      this.views.release(view.key);
      if (view.built) await this.views.collectIfUnheld(view.key).catch((e: unknown) => log.error({ err: e }, 'rollback: view removal failed'));
      throw error;
    }
  }

  /**
   * Unmounts what `record` mounted at `path`, removes its overlay, the directory it
   * created and its record, in that order, so a failure (or a kill) at any step leaves
   * a record a retry finishes from: the record is what proves the directory is
   * nixmount's, so it goes last (a retry finds the directory gone, which is fine).
   * A foreign mount on top of ours is FAILED_PRECONDITION and nothing changes.
   * `parentAt`: the real path of the parent when the caller checked `path` (see VolumeDirs.holdExisting).
   */
  async detach<R extends Holding>(records: RecordWriter<R>, record: R, path: string, log: Logger = this.log, parentAt?: string): Promise<void> {
    // The parent is held from here on: the ownership check, the unmount and the rmdir all
    // look up the target in that one directory, never by walking the path again, so a
    // directory on it swapped for a symlink meanwhile cannot send any of them elsewhere.
    const held = await this.dirs.holdExisting(path, parentAt);
    try {
      if (held) {
        await this.unmountOwn(held.path, log, { shown: path });
      } else if (record.mountId !== undefined) {
        // No parent, so nothing is mounted at the path; the mount may still be where a move took it.
        await this.mounter.unmountById(record.mountId, ownerOf(record));
      }
      if (record.overlayDir) await this.dirs.removeOverlay(record.key);
      if (record.createdPath && held) await this.removeCreated(held.path, path, log);
    } finally {
      held?.release();
    }
    await this.forget(records, record);
  }

  /**
   * Unpublishes a recorded volume whose path no longer leads where it was mounted (a
   * directory on it was swapped for a symlink or moved): the path is never walked. The
   * mount is found by what the record proves: its id, if the table still attributes that
   * mount to the record; for a record without one (written before ids were kept, or by a
   * publish that died before its second write), a writable volume's overlay, whose upper
   * directory is this record's alone. A read-only volume's bind of a shared view cannot be
   * told from other volumes' binds of it: while any mount of the view is not at another
   * record's path (`elsewhere`), FAILED_PRECONDITION names each and nothing changes, so
   * the operator unmounts the right one (or undoes the swap, after which the unpublish
   * goes the normal way). The directory it created is left (no path to it can be trusted).
   */
  async detachMoved<R extends Holding>(records: RecordWriter<R>, record: R, path: string, elsewhere: (mountPoint: string) => boolean, log: Logger = this.log): Promise<void> {
    const owner = ownerOf(record);
    let unmounted = false;
    if (record.mountId !== undefined) {
      unmounted = await this.mounter.unmountById(record.mountId, owner);
    } else if (owner.kind === 'overlay') {
      // Stacked (a crash between a mount and its record, retried) or not, each is this record's.
      for (const mount of (await this.mounter.mountsOf(owner)).reverse()) unmounted = (await this.mounter.unmountById(mount.mountId, owner)) || unmounted;
    } else {
      const candidates = (await this.mounter.mountsOf(owner)).filter((mount) => !elsewhere(mount.mountPoint));
      if (candidates.length > 0) {
        throw new FailedPreconditionError(
          `${path} no longer leads to the volume's mount (a directory on it was swapped for a symlink or moved) and its record, from an older nixmount, does not name the mount; ` +
            `it is one of these binds of view ${record.viewKey}: ${candidates.map((mount) => quote(mount.mountPoint)).join(', ')}. ` +
            'Undo the swap and retry (the unpublish then finds it), or unmount the one that was this volume\'s by hand (umount -R <mount point>, which also takes a bind farm\'s per-path binds below it) and retry',
        );
      }
    }
    if (record.overlayDir) await this.dirs.removeOverlay(record.key);
    await this.forget(records, record);
    log.warn({ path, unmounted, createdPathLeft: Boolean(record.createdPath) }, 'unpublished a volume whose path was swapped for a symlink or moved; its mount was found by what its record proves');
  }

  /**
   * A path with no record: a mount of ours there (whose record was set aside as
   * unreadable) is unmounted, with its overlay; the directory is left, since no
   * record says nixmount created it. Anyone else's mount is never touched.
   */
  async detachUnrecorded(path: string, hasRecord: (key: string) => boolean, log: Logger = this.log): Promise<boolean> {
    const removed = await this.unmountOwn(path, log, { tolerateForeign: true });
    for (const owner of removed) {
      if (owner.kind === 'overlay' && !hasRecord(owner.volumeKey)) await this.dirs.removeOverlay(owner.volumeKey);
      if (owner.viewKey) this.views.noteUnused(owner.viewKey);
    }
    if (removed.length > 0) log.warn({ path, mounts: removed.length }, 'unmounted a volume of ours that had no record');
    return removed.length > 0;
  }

  /** Deletes `record`, then drops its hold on its view (a failed delete keeps both). */
  private async forget<R extends Holding>(records: RecordWriter<R>, record: R): Promise<void> {
    await records.delete(record.key);
    this.views.drop(record.viewKey, { kind: records.kind, key: record.key });
    if (this.settings.viewIdleMs === 0) await this.views.collectIfUnheld(record.viewKey);
  }

  /**
   * Mount points of ours that no path in `recorded` names: mounts whose record was set
   * aside as unreadable, or that a swap moved. Any of them could be the volume of a path
   * that can no longer be walked. Read from the mount table; no path is walked.
   */
  async unrecordedMounts(recorded: ReadonlySet<string>): Promise<string[]> {
    return (await this.mounter.ownMounts()).filter((mount) => !recorded.has(mount.mountPoint)).map((mount) => mount.mountPoint);
  }

  /** Unmounts our mounts from the top of `path`'s stack; stops at the first that is not ours. */
  private async unmountOwn(path: string, log: Logger, options: { tolerateForeign?: boolean; shown?: string } = {}): Promise<OwnMount['owner'][]> {
    const shown = options.shown ?? path;
    const removed: OwnMount['owner'][] = [];
    for (let i = 0; i <= MAX_STACK; i++) {
      const top = await this.mounter.topAt(path);
      if (!top) return removed;
      if (top.kind === 'foreign') {
        if (removed.length > 0 || options.tolerateForeign) return removed; // ours came off; what was there before stays
        throw foreignMount(shown, top);
      }
      if (i === MAX_STACK) break;
      await this.mounter.unmount(path);
      removed.push(top);
      log.debug({ path: shown, owner: top }, 'unmounted');
    }
    throw new FailedPreconditionError(`${shown} still has mounts of nixmount after ${MAX_STACK} unmounts; check the mount table`);
  }

  private async removeCreated(at: string, path: string, log: Logger): Promise<void> {
    try {
      await this.dirs.removeTarget(at);
    } catch (error) {
      // Never deletes contents: a directory someone filled (or mounted on) stays, and the call still succeeds.
      log.warn({ path, err: error }, 'left the directory nixmount created: it is not empty or still in use');
    }
  }
}

function ownerOf(record: Holding): Exclude<MountOwner, { kind: 'foreign' }> {
  return record.overlayDir ? { kind: 'overlay', volumeKey: record.key } : { kind: 'view', viewKey: record.viewKey };
}

function foreignMount(path: string, mount: Extract<MountOwner, { kind: 'foreign' }>): FailedPreconditionError {
  return new FailedPreconditionError(
    `${path} holds a mount nixmount does not own (${mount.description}); nixmount never mounts over or unmounts it — unmount it first`,
  );
}
