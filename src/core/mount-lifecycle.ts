import { inject, injectable } from 'inversify';
import { FailedPreconditionError } from './errors.js';
import { Logger } from './ports/logger.js';
import { Mounter, type MountOwner, type OwnMount } from './ports/mounter.js';
import { VolumeDirs, type HeldTarget } from './ports/volume-dirs.js';
import { NodeSettings } from './settings.js';
import { ViewManager, type AcquiredView } from './view-manager.js';
import type { PutOptions } from './ports/record-store.js';
import { volumeKey } from './view-key.js';

/** What every durable record of a mount (a publish or a stage) says about what it holds. */
export interface Holding {
  key: string;
  volumeId: string;
  viewKey: string;
  overlayDir?: string;
  createdPath?: boolean;
  mountId?: number;
}

/** The part of a record store the lifecycle writes through. */
export interface RecordWriter<R> {
  putThen<T>(record: R, next: () => Promise<T>, options?: PutOptions): Promise<T>;
  delete(key: string): Promise<void>;
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
   */
  async detach<R extends Holding>(records: RecordWriter<R>, record: R, path: string, log: Logger = this.log): Promise<void> {
    await this.unmountOwn(path, log);
    if (record.overlayDir) await this.dirs.removeOverlay(record.key);
    if (record.createdPath) await this.removeCreated(path, log);
    await records.delete(record.key);
    this.views.noteRecordDropped(record.viewKey);
    if (this.settings.viewIdleMs === 0) await this.views.collectIfUnheld(record.viewKey);
  }

  /**
   * Unpublishes a recorded volume whose path no longer leads where it was mounted (a
   * directory on it was swapped for a symlink or moved): the path is never walked; the
   * mount the record names by id is unmounted wherever it is now, if the table proves
   * it is still this record's. The directory it created is left (no path to it can be
   * trusted) and said so. A record from before mount ids were kept cannot be found
   * safely: FAILED_PRECONDITION, and nothing changes.
   */
  async detachMoved<R extends Holding>(records: RecordWriter<R>, record: R, path: string, log: Logger = this.log): Promise<void> {
    if (record.mountId === undefined) {
      throw new FailedPreconditionError(`${path} no longer leads to the volume's mount and its record does not name the mount; unmount it by hand`);
    }
    const owner = record.overlayDir ? { kind: 'overlay' as const, volumeKey: record.key } : { kind: 'view' as const, viewKey: record.viewKey };
    const unmounted = await this.mounter.unmountById(record.mountId, owner);
    if (record.overlayDir) await this.dirs.removeOverlay(record.key);
    await records.delete(record.key);
    log.warn({ path, unmounted, createdPathLeft: Boolean(record.createdPath) }, 'unpublished a volume whose path was swapped for a symlink or moved; its mount was found by id');
    this.views.noteRecordDropped(record.viewKey);
    if (this.settings.viewIdleMs === 0) await this.views.collectIfUnheld(record.viewKey);
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
      if (owner.viewKey) this.views.noteRecordDropped(owner.viewKey);
    }
    if (removed.length > 0) log.warn({ path, mounts: removed.length }, 'unmounted a volume of ours that had no record');
    return removed.length > 0;
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

  private async removeCreated(path: string, log: Logger): Promise<void> {
    try {
      await this.dirs.removeTarget(path);
    } catch (error) {
      // Never deletes contents: a directory someone filled (or mounted on) stays, and the call still succeeds.
      log.warn({ path, err: error }, 'left the directory nixmount created: it is not empty or still in use');
    }
  }
}

function foreignMount(path: string, mount: Extract<MountOwner, { kind: 'foreign' }>): FailedPreconditionError {
  return new FailedPreconditionError(
    `${path} holds a mount nixmount does not own (${mount.description}); nixmount never mounts over or unmounts it — unmount it first`,
  );
}
