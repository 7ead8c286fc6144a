import { inject, injectable } from 'inversify';
import { Logger } from './ports/logger.js';
import { Mounter } from './ports/mounter.js';
import { StageState } from './ports/stage-state.js';
import { VolumeDirs } from './ports/volume-dirs.js';
import { VolumeState } from './ports/volume-state.js';
import { ViewManager } from './view-manager.js';

/**
 * What a node does before it answers its first call, after a clean stop or a crash
 * at any instant: reload the records (setting unreadable ones aside), then make
 * views, GC roots, overlays and the mount table agree with them. Nothing that a
 * live mount uses is removed; what only a crash could have left is.
 */
@injectable()
export class NodeRecovery {
  constructor(
    @inject(VolumeState) private readonly volumes: VolumeState,
    @inject(StageState) private readonly stages: StageState,
    @inject(ViewManager) private readonly views: ViewManager,
    @inject(VolumeDirs) private readonly dirs: VolumeDirs,
    @inject(Mounter) private readonly mounter: Mounter,
    @inject(Logger) private readonly log: Logger,
  ) {}

  async recover(): Promise<void> {
    const scratch = await this.mounter.sweep();
    if (scratch > 0) this.log.warn({ mounts: scratch }, 'removed scratch mounts of a publish a crash interrupted');
    // Records hold views: loaded before anything could collect one.
    await this.stages.load();
    await this.volumes.load();
    // The view manager owns who holds a view: it is told of every record found.
    this.views.adoptHolds([
      ...this.volumes.list().map((record) => ({ kind: 'volume' as const, key: record.key, viewKey: record.viewKey })),
      ...this.stages.list().map((record) => ({ kind: 'stage' as const, key: record.key, viewKey: record.viewKey })),
    ]);
    await this.views.reconcile();

    const own = await this.mounter.ownMounts();
    const mountedOverlays = new Set(own.flatMap(({ owner }) => (owner.kind === 'overlay' ? [owner.volumeKey] : [])));
    for (const key of await this.dirs.listOverlays()) {
      if (this.volumes.get(key) || mountedOverlays.has(key)) continue;
      await this.dirs.removeOverlay(key); // a publish that crashed before its record, or an unpublish after its unmount
      this.log.warn({ overlay: key }, 'removed an overlay without a record or a mount');
    }

    const recorded = new Set([
      ...this.volumes.list().map((record) => record.targetPath),
      ...this.stages.list().map((record) => record.stagingPath),
    ]);
    for (const path of recorded) {
      if (!own.some((mount) => mount.mountPoint === path)) {
        this.log.warn({ path }, 'recorded volume is not mounted; a retried publish or stage mounts it again');
      }
    }
    for (const mount of own) {
      if (!recorded.has(mount.mountPoint)) {
        this.log.warn({ path: mount.mountPoint, owner: mount.owner }, 'a mount of ours has no record; its view stays held until it is unpublished');
      }
    }
    this.log.info({ volumes: this.volumes.list().length, stages: this.stages.list().length, mounts: own.length }, 'state reloaded');
  }
}
