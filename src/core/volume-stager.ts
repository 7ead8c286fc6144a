import { inject, injectable } from 'inversify';
import { AlreadyExistsError, FailedPreconditionError, NotFoundError } from './errors.js';
import { ClosureSource } from './closure-source.js';
import { isReaderMode } from './access-modes.js';
import { Clock } from './ports/clock.js';
import { Logger } from './ports/logger.js';
import { StageState, type StageRecord } from './ports/stage-state.js';
import type { HeldTarget } from './ports/volume-dirs.js';
import { VolumeState } from './ports/volume-state.js';
import { MountLifecycle, recordWriter, type RecordWriter } from './mount-lifecycle.js';
import { ViewManager, type AcquiredView } from './view-manager.js';
import { volumeKey } from './view-key.js';
import { specFingerprint, type VolumeSpec } from './volume-spec.js';
import type { AccessMode, StagedView } from './volume-request.js';

export interface StageRequest {
  volumeId: string;
  stagingPath: string;
  accessMode: AccessMode;
  spec: VolumeSpec;
  /** specFingerprint(spec), when the caller computed it already (NodeVolumes does, once per request). */
  specFingerprint?: string;
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
 * staging path then mounts the held view without resolving again. The mount
 * lifecycle is the publisher's: one rollback, one record, one unmount path. Stage and
 * unstage run under the node's path locks (mountClaims), taken by NodeVolumes, which
 * also order them with the publishes from the staging path. Both are CSI calls, refused
 * (ABORTED) when busy.
 */
@injectable()
export class VolumeStager {
  constructor(
    @inject(ClosureSource) private readonly source: ClosureSource,
    @inject(ViewManager) private readonly views: ViewManager,
    @inject(MountLifecycle) private readonly lifecycle: MountLifecycle,
    @inject(StageState) private readonly stages: StageState,
    @inject(VolumeState) private readonly volumes: VolumeState,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly log: Logger,
  ) {
    this.records = recordWriter('stage', stages);
  }

  /** The stage records, written through the lifecycle as holders of their views. */
  private readonly records: RecordWriter<StageRecord>;

  /** Stages; the caller holds the lock of mountClaims.stage (NodeVolumes.stage takes it). */
  async stage(request: StageRequest, log: Logger = this.log): Promise<StageResult> {
    const held = await this.lifecycle.hold(request.stagingPath);
    try {
      return await this.stageHeld(request, held, log);
    } finally {
      held.release();
    }
  }

  private async stageHeld(request: StageRequest, held: HeldTarget, log: Logger): Promise<StageResult> {
    const key = volumeKey(request.stagingPath);
    const specKey = request.specFingerprint ?? specFingerprint(request.spec);
    const fingerprint = JSON.stringify({ spec: specKey, mode: request.accessMode });
    const existing = this.stages.get(key);
    let view: AcquiredView | undefined;
    let roots: string[] = [];
    if (existing) {
      if (existing.volumeId !== request.volumeId) {
        throw new AlreadyExistsError(`staging path ${request.stagingPath} already holds volume ${existing.volumeId}`);
      }
      if (existing.requestFingerprint !== fingerprint) {
        throw new AlreadyExistsError(`volume ${request.volumeId} is already staged at ${request.stagingPath} with other arguments`);
      }
      if (await this.lifecycle.isMounted(request.stagingPath, existing)) {
        return { viewKey: existing.viewKey, roots: existing.roots, viewBuilt: false, alreadyStaged: true };
      }
      // The bind is missing (after a reboot, or a crash mid-stage): bind the view the record
      // holds again, without resolving anew; the lease keeps it while the record is replaced.
      log.warn({ staging: request.stagingPath }, 'stage record found without its mount; binding again');
      view = await this.views.acquireExisting(existing.viewKey).catch(() => undefined);
      roots = existing.roots;
      try {
        await this.lifecycle.detach(this.records, existing, request.stagingPath, log);
      } catch (error) {
        if (view) this.views.release(view.key);
        throw error;
      }
    }
    const alreadyStaged = view !== undefined;
    if (!view) {
      const prepared = await this.source.prepare(request.spec, log, { fingerprint: specKey });
      roots = prepared.roots;
      // Publishes from a staging path of a writing mode lay an overlay on its view: never a bind farm there.
      view = await this.views.acquire(prepared, { writable: !isReaderMode(request.accessMode) });
    }
    const acquired = view;
    await this.lifecycle.attach(
      {
        path: request.stagingPath,
        held,
        view: acquired,
        readonly: true,
        flags: [],
        records: this.records,
        record: (made): StageRecord => ({
          key: made.key,
          volumeId: request.volumeId,
          stagingPath: request.stagingPath,
          requestFingerprint: fingerprint,
          viewKey: acquired.key,
          roots,
          createdPath: made.createdPath,
          stagedAt: this.clock.now().toISOString(),
        }),
      },
      log,
    );
    log.info({ staging: request.stagingPath, view: acquired.key, viewBuilt: acquired.built }, 'volume staged');
    return { viewKey: acquired.key, roots, viewBuilt: acquired.built, alreadyStaged };
  }

  /** Where the stage records say stage mounts are. */
  stagingPaths(): string[] {
    return this.stages.list().map((record) => record.stagingPath);
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
   * rather than leaving mounts whose stage is gone. `parentAt`: the staging path's
   * parent's real path when it was checked (see MountLifecycle.detach). The caller holds
   * the lock of mountClaims.unstage (NodeVolumes.unstage takes it).
   */
  async unstage(volumeId: string, stagingPath: string, log: Logger = this.log, parentAt?: string): Promise<{ wasStaged: boolean }> {
    const record = this.stages.get(volumeKey(stagingPath));
    if (!record) {
      const unmounted = await this.lifecycle.detachUnrecorded(stagingPath, (key) => this.stages.get(key) !== undefined, log);
      return { wasStaged: unmounted };
    }
    if (record.volumeId !== volumeId) {
      throw new NotFoundError(`staging path ${stagingPath} holds volume ${record.volumeId}, not ${volumeId}`);
    }
    const publishes = this.volumes.list().filter((volume) => volume.stagingPath === stagingPath);
    if (publishes.length > 0) {
      throw new FailedPreconditionError(
        `volume ${volumeId} is still published from ${stagingPath} at ${publishes.map((p) => p.targetPath).join(', ')}; unpublish those first`,
      );
    }
    await this.lifecycle.detach(this.records, record, stagingPath, log, parentAt);
    log.info({ staging: stagingPath, view: record.viewKey }, 'volume unstaged');
    return { wasStaged: true };
  }
}
