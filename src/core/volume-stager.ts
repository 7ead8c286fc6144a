import { inject, injectable } from 'inversify';
import { AlreadyExistsError, FailedPreconditionError, NotFoundError } from './errors.js';
import { ClosureSource } from './closure-source.js';
import { Clock } from './ports/clock.js';
import { Logger } from './ports/logger.js';
import { Mounter } from './ports/mounter.js';
import { StageState, type StageRecord } from './ports/stage-state.js';
import { VolumeDirs } from './ports/volume-dirs.js';
import { VolumeState } from './ports/volume-state.js';
import { NodeSettings } from './settings.js';
import { ViewManager } from './view-manager.js';
import { volumeKey } from './view-key.js';
import { specFingerprint, type VolumeSpec } from './volume-spec.js';
import type { AccessMode, StagedView } from './volume-request.js';

export interface StageRequest {
  volumeId: string;
  stagingPath: string;
  accessMode: AccessMode;
  spec: VolumeSpec;
}

export interface StageResult {
  viewKey: string;
  roots: string[];
  viewBuilt: boolean;
  alreadyStaged: boolean;
}

/**
 * NodeStageVolume / NodeUnstageVolume for orchestrators that stage (Nomad): staging
 * resolves and realises the closure once per staging path, takes a durable hold on
 * its view and binds it read-only at the staging path; every publish from that
 * staging path then mounts the held view without resolving again.
 */
@injectable()
export class VolumeStager {
  constructor(
    @inject(ClosureSource) private readonly source: ClosureSource,
    @inject(ViewManager) private readonly views: ViewManager,
    @inject(Mounter) private readonly mounter: Mounter,
    @inject(VolumeDirs) private readonly dirs: VolumeDirs,
    @inject(StageState) private readonly stages: StageState,
    @inject(VolumeState) private readonly volumes: VolumeState,
    @inject(NodeSettings) private readonly settings: NodeSettings,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly log: Logger,
  ) {}

  async stage(request: StageRequest, log: Logger = this.log): Promise<StageResult> {
    const key = volumeKey(request.stagingPath);
    const fingerprint = JSON.stringify({ spec: specFingerprint(request.spec), mode: request.accessMode });
    const existing = this.stages.get(key);
    if (existing) {
      if (existing.volumeId !== request.volumeId) {
        throw new AlreadyExistsError(`staging path ${request.stagingPath} already holds volume ${existing.volumeId}`);
      }
      if (existing.requestFingerprint !== fingerprint) {
        throw new AlreadyExistsError(`volume ${request.volumeId} is already staged at ${request.stagingPath} with other arguments`);
      }
      // The record holds the view, so it is still there; only the bind may be missing (after a reboot).
      if (!(await this.mounter.isMountPoint(request.stagingPath))) {
        log.warn({ staging: request.stagingPath }, 'stage record found without its mount; binding again');
        await this.dirs.createTarget(request.stagingPath);
        await this.mounter.bindReadOnly(this.views.nixDir(existing.viewKey), request.stagingPath);
      }
      return { viewKey: existing.viewKey, roots: existing.roots, viewBuilt: false, alreadyStaged: true };
    }

    const roots = await this.source.prepare(request.spec, log);
    const view = await this.views.acquire(roots);
    const undo: Array<() => Promise<unknown>> = [];
    try {
      if (await this.dirs.createTarget(request.stagingPath)) {
        undo.push(() => this.dirs.removeTarget(request.stagingPath));
      }
      const record: StageRecord = {
        key,
        volumeId: request.volumeId,
        stagingPath: request.stagingPath,
        requestFingerprint: fingerprint,
        viewKey: view.key,
        roots,
        stagedAt: this.clock.now().toISOString(),
      };
      // Record before mount, as for publishes: a crash leaves a record a retry or unstage cleans up.
      await this.stages.put(record);
      undo.push(() => this.stages.delete(key));
      await this.mounter.bindReadOnly(view.nixDir, request.stagingPath);
      this.views.release(view.key);
      log.info({ staging: request.stagingPath, view: view.key, viewBuilt: view.built }, 'volume staged');
      return { viewKey: view.key, roots, viewBuilt: view.built, alreadyStaged: false };
    } catch (error) {
      await this.unmountAll(request.stagingPath).catch((e) => log.error({ err: e }, 'rollback: unmount failed'));
      for (const step of undo.reverse()) {
        await step().catch((e) => log.error({ err: e }, 'rollback step failed'));
      }
      this.views.release(view.key);
      if (view.built) await this.views.collectIfUnheld(view.key).catch((e) => log.error({ err: e }, 'rollback: view removal failed'));
      throw error;
    }
  }

  /** What a publish from `stagingPath` mounts; FAILED_PRECONDITION when the volume was not staged there. */
  stagedView(volumeId: string, stagingPath: string): StagedView {
    const record = this.stages.get(volumeKey(stagingPath));
    if (!record || record.volumeId !== volumeId) {
      throw new FailedPreconditionError(`volume ${volumeId} is not staged at ${stagingPath}; NodeStageVolume must come first`);
    }
    return { stagingPath, viewKey: record.viewKey, roots: record.roots };
  }

  /**
   * Unbinds the staging path and drops the stage's hold on its view. Not staged is
   * OK (idempotent). The CSI spec makes the orchestrator unpublish every target
   * before unstaging; a publish still recorded from this staging path means that
   * order was broken, so the call is refused (FAILED_PRECONDITION) and retried later
   * rather than leaving mounts whose stage is gone.
   */
  async unstage(volumeId: string, stagingPath: string, log: Logger = this.log): Promise<{ wasStaged: boolean }> {
    const record = this.stages.get(volumeKey(stagingPath));
    if (!record) return { wasStaged: false };
    if (record.volumeId !== volumeId) {
      throw new NotFoundError(`staging path ${stagingPath} holds volume ${record.volumeId}, not ${volumeId}`);
    }
    const publishes = this.volumes.list().filter((volume) => volume.stagingPath === stagingPath);
    if (publishes.length > 0) {
      throw new FailedPreconditionError(
        `volume ${volumeId} is still published from ${stagingPath} at ${publishes.map((p) => p.targetPath).join(', ')}; unpublish those first`,
      );
    }
    await this.unmountAll(stagingPath);
    await this.stages.delete(record.key);
    this.views.noteRecordDropped(record.viewKey);
    if (this.settings.viewIdleMs === 0) await this.views.collectIfUnheld(record.viewKey);
    log.info({ staging: stagingPath, view: record.viewKey }, 'volume unstaged');
    return { wasStaged: true };
  }

  /** After a restart: reload stage records (they hold views, so before any collection). */
  async recover(): Promise<void> {
    await this.stages.load();
    for (const record of this.stages.list()) {
      if (!(await this.mounter.isMountPoint(record.stagingPath))) {
        this.log.warn({ staging: record.stagingPath, volumeId: record.volumeId }, 'staged volume is not bound; a retried stage binds it again');
      }
    }
  }

  private async unmountAll(path: string): Promise<void> {
    for (let i = 0; i < 8 && (await this.mounter.isMountPoint(path)); i++) {
      await this.mounter.unmount(path);
    }
  }
}
