import { inject, injectable } from 'inversify';
import { AlreadyExistsError, FailedPreconditionError, NotFoundError } from './errors.js';
import { ClosureSource } from './closure-source.js';
import { Clock } from './ports/clock.js';
import { Logger } from './ports/logger.js';
import { Mounter } from './ports/mounter.js';
import { VolumeDirs, type VolumeUsage } from './ports/volume-dirs.js';
import { VolumeState, type VolumeRecord } from './ports/volume-state.js';
import { NodeSettings } from './settings.js';
import { ViewManager } from './view-manager.js';
import { volumeKey } from './view-key.js';
import { specFingerprint } from './volume-spec.js';
import { SINGLE_TARGET_MODES, type PublishRequest, type PublishResult } from './volume-request.js';

const READER_MODES = new Set(['single-node-reader-only', 'multi-node-reader-only']);

/**
 * The publish pipeline: resolve → realise → closure → view → record → mount, and
 * its reverse. Every failure undoes what the call did, so nothing is left behind.
 */
@injectable()
export class VolumePublisher {
  constructor(
    @inject(ClosureSource) private readonly source: ClosureSource,
    @inject(ViewManager) private readonly views: ViewManager,
    @inject(Mounter) private readonly mounter: Mounter,
    @inject(VolumeDirs) private readonly dirs: VolumeDirs,
    @inject(VolumeState) private readonly state: VolumeState,
    @inject(NodeSettings) private readonly settings: NodeSettings,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly log: Logger,
  ) {}

  async publish(request: PublishRequest, log: Logger = this.log): Promise<PublishResult> {
    const key = volumeKey(request.targetPath);
    const readonly = request.readonly || READER_MODES.has(request.accessMode);
    const fingerprint = JSON.stringify({
      spec: specFingerprint(request.spec),
      readonly,
      mode: request.accessMode,
      flags: [...request.mountFlags].sort(),
      ...(request.staged ? { staging: request.staged.stagingPath } : {}),
    });

    const existing = this.state.get(key);
    if (existing) {
      if (existing.volumeId !== request.volumeId) {
        throw new AlreadyExistsError(
          `target ${request.targetPath} already holds volume ${existing.volumeId}`,
        );
      }
      if (existing.requestFingerprint !== fingerprint) {
        throw new AlreadyExistsError(
          `volume ${request.volumeId} is already published at ${request.targetPath} with other arguments`,
        );
      }
      if (await this.mounter.isMountPoint(request.targetPath)) {
        return { targetPath: request.targetPath, viewKey: existing.viewKey, roots: existing.roots, viewBuilt: false, alreadyPublished: true };
      }
      // A record without its mount (the node rebooted, or a crash mid-publish): start afresh.
      log.warn({ target: request.targetPath }, 'record found without its mount; publishing again');
      await this.dropRecord(existing);
    }

    if (SINGLE_TARGET_MODES.has(request.accessMode)) {
      const other = this.state.list().find((record) => record.volumeId === request.volumeId);
      if (other) {
        throw new FailedPreconditionError(
          `volume ${request.volumeId} is ${request.accessMode} and already published at ${other.targetPath}`,
        );
      }
    }

    const roots = request.staged ? request.staged.roots : await this.source.prepare(request.spec, log);
    const view = request.staged ? await this.views.acquireExisting(request.staged.viewKey) : await this.views.acquire(roots);
    const undo: Array<() => Promise<unknown>> = [];
    try {
      if (await this.dirs.createTarget(request.targetPath)) {
        undo.push(() => this.dirs.removeTarget(request.targetPath));
      }
      const record: VolumeRecord = {
        key,
        volumeId: request.volumeId,
        targetPath: request.targetPath,
        readonly,
        accessMode: request.accessMode,
        requestFingerprint: fingerprint,
        viewKey: view.key,
        roots,
        ephemeral: request.ephemeral,
        ...(request.staged ? { stagingPath: request.staged.stagingPath } : {}),
        publishedAt: this.clock.now().toISOString(),
      };
      if (!readonly) {
        const overlay = await this.dirs.createOverlay(key, view.nixDir);
        undo.push(() => this.dirs.removeOverlay(key));
        record.overlayDir = overlay.dir;
      }
      // The record is written before the mount: a crash in between leaves a record
      // that a retry or an unpublish cleans up, never a mount nobody knows about.
      await this.state.put(record);
      undo.push(() => this.state.delete(key));
      if (readonly) {
        await this.mounter.bindReadOnly(view.nixDir, request.targetPath, request.mountFlags);
      } else {
        await this.mounter.overlay(
          { lower: view.nixDir, upper: `${record.overlayDir}/upper`, work: `${record.overlayDir}/work` },
          request.targetPath,
          request.mountFlags,
        );
      }
      this.views.release(view.key);
      log.info({ target: request.targetPath, view: view.key, readonly, viewBuilt: view.built }, 'volume published');
      return { targetPath: request.targetPath, viewKey: view.key, roots, viewBuilt: view.built, alreadyPublished: false };
    } catch (error) {
      await this.unmountAll(request.targetPath).catch((e) => log.error({ err: e }, 'rollback: unmount failed'));
      for (const step of undo.reverse()) {
        await step().catch((e) => log.error({ err: e }, 'rollback step failed'));
      }
      this.views.release(view.key);
      if (view.built) await this.views.collectIfUnheld(view.key).catch((e) => log.error({ err: e }, 'rollback: view removal failed'));
      throw error;
    }
  }

  /**
   * Unmounts and forgets the volume at `targetPath`. Absent or already gone is OK
   * (idempotent); a target holding another volume is NOT_FOUND for this one.
   */
  async unpublish(volumeId: string, targetPath: string, log: Logger = this.log): Promise<{ wasPublished: boolean }> {
    const record = this.state.get(volumeKey(targetPath));
    if (!record) {
      // Nothing of ours is there; an empty leftover mount point is still removed.
      await this.dirs.removeTarget(targetPath).catch(() => undefined);
      return { wasPublished: false };
    }
    if (record.volumeId !== volumeId) {
      throw new NotFoundError(`target ${targetPath} holds volume ${record.volumeId}, not ${volumeId}`);
    }
    await this.dropRecord(record);
    log.info({ target: targetPath, view: record.viewKey }, 'volume unpublished');
    return { wasPublished: true };
  }

  async usage(volumeId: string, path: string): Promise<{ usage: VolumeUsage; mounted: boolean }> {
    const record = this.state.get(volumeKey(path));
    if (!record || record.volumeId !== volumeId) {
      throw new NotFoundError(`volume ${volumeId} is not published at ${path}`);
    }
    const mounted = await this.mounter.isMountPoint(path);
    return { usage: await this.dirs.usage(mounted ? path : this.views.nixDir(record.viewKey)), mounted };
  }

  /** After a restart: reload records and clear what a crash left half-done. */
  async recover(): Promise<void> {
    await this.state.load();
    const records = this.state.list();
    const keys = new Set(records.map((record) => record.key));
    for (const orphan of await this.dirs.listOverlays()) {
      if (!keys.has(orphan)) await this.dirs.removeOverlay(orphan);
    }
    for (const record of records) {
      if (!(await this.mounter.isMountPoint(record.targetPath))) {
        this.log.warn({ target: record.targetPath, volumeId: record.volumeId }, 'published volume is not mounted; a retry will mount it again');
      }
    }
    this.log.info({ volumes: records.length }, 'state reloaded');
  }

  private async dropRecord(record: VolumeRecord): Promise<void> {
    await this.unmountAll(record.targetPath);
    if (record.overlayDir) await this.dirs.removeOverlay(record.key);
    await this.state.delete(record.key);
    await this.dirs.removeTarget(record.targetPath);
    this.views.noteRecordDropped(record.viewKey);
    if (this.settings.viewIdleMs === 0) await this.views.collectIfUnheld(record.viewKey);
  }

  // Stacked mounts at one target (a retry that raced) all come off.
  private async unmountAll(targetPath: string): Promise<void> {
    for (let i = 0; i < 8 && (await this.mounter.isMountPoint(targetPath)); i++) {
      await this.mounter.unmount(targetPath);
    }
  }
}
