import { inject, injectable } from 'inversify';
import { AlreadyExistsError, FailedPreconditionError, NotFoundError, UnavailableError, failureFacts } from './errors.js';
import { ClosureSource } from './closure-source.js';
import { READER_MODES } from './access-modes.js';
import { Clock } from './ports/clock.js';
import { Logger } from './ports/logger.js';
import { NodeEvents, type PublishPhases } from './ports/node-events.js';
import { VolumeDirs, type HeldTarget, type VolumeUsage } from './ports/volume-dirs.js';
import { VolumeState, type VolumeRecord } from './ports/volume-state.js';
import type { VolumeOrigin } from './volume-origin.js';
import { claimed, mayActOn, otherOrigin } from './record-origin.js';
import { MountLifecycle, recordWriter, type RecordWriter } from './mount-lifecycle.js';
import type { WhenBusy } from './path-locks.js';
import { ViewManager, type AcquiredView } from './view-manager.js';
import { quote } from './quote.js';
import { volumeKey } from './view-key.js';
import { VolumeStager } from './volume-stager.js';
import { specFingerprint } from './volume-spec.js';
import { SINGLE_TARGET_MODES, type PublishRequest, type PublishResult, type StagedView } from './volume-request.js';


export interface UnpublishOptions {
  /** What to do when another operation holds the target (see PathLocks; NodeVolumes takes the lock); refused unless given. */
  whenBusy?: WhenBusy;
  /** Who unpublishes (see VolumeOrigin): the other side's volume is refused. CSI unless given. */
  origin?: VolumeOrigin;
  /**
   * The real path of the target's parent as it was when the path was checked: the
   * unpublish holds the parent and refuses (ABORTED, nothing changed) if the directory
   * held is not that one, so a swap between the check and the hold is caught too.
   */
  parentAt?: string;
}

/**
 * The publish pipeline: resolve → realise → closure → view → record → mount, and
 * its reverse, through the one mount lifecycle that staging shares. Target paths
 * arrive canonical (the adapter checked them). It runs behind NodeVolumes, the node's
 * front door, which holds the node's path locks (mountClaims) for each call's whole
 * run: two calls on one target would stack mounts and overwrite one record.
 */
@injectable()
export class VolumePublisher {
  constructor(
    @inject(ClosureSource) private readonly source: ClosureSource,
    @inject(ViewManager) private readonly views: ViewManager,
    @inject(MountLifecycle) private readonly lifecycle: MountLifecycle,
    @inject(VolumeStager) private readonly stager: VolumeStager,
    @inject(VolumeDirs) private readonly dirs: VolumeDirs,
    @inject(VolumeState) private readonly state: VolumeState,
    @inject(Clock) private readonly clock: Clock,
    @inject(NodeEvents) private readonly events: NodeEvents,
    @inject(Logger) private readonly log: Logger,
  ) {
    this.records = recordWriter('volume', state);
  }

  /** The volume records, written through the lifecycle as holders of their views. */
  private readonly records: RecordWriter<VolumeRecord>;

  /**
   * Publishes, and tells the node's listeners how it went (see NodeEvents). The caller
   * holds the path locks of mountClaims.publish (NodeVolumes.publish takes them), so a
   * volume made after the caller's answer-by time is undone before any other call sees it.
   */
  async publish(request: PublishRequest, log: Logger = this.log): Promise<PublishResult> {
    this.refuseIfLate(request, 'not started');
    const result = await this.publishInTime(request, log);
    if (request.answerBy !== undefined && !result.alreadyPublished && this.clock.now().getTime() > request.answerBy) {
      await this.unpublishOnce(request.volumeId, request.targetPath, request.origin ?? 'csi', log);
      this.refuseIfLate(request, 'made too late, and undone');
    }
    return result;
  }

  /** UNAVAILABLE once the caller's answer-by time has passed (see PublishRequest.answerBy). */
  private refuseIfLate(request: PublishRequest, what: string): void {
    if (request.answerBy === undefined) return;
    const late = this.clock.now().getTime() - request.answerBy;
    if (late < 0) return;
    throw new UnavailableError(
      `volume ${quote(request.volumeId)} at ${request.targetPath}: ${what}, ${(late / 1000).toFixed(1)} s after the caller stopped waiting for the answer; nothing of it is left: ask again`,
    );
  }

  private async publishInTime(request: PublishRequest, log: Logger): Promise<PublishResult> {
    const started = performance.now();
    const workload = request.workload ?? {};
    const phase = phaseTimer();
    try {
      const result = await this.publishOnce(request, log, phase);
      if (!result.alreadyPublished) {
        this.events.emit({
          kind: 'publish-finished',
          workload,
          volumeId: request.volumeId,
          targetPath: request.targetPath,
          readonly: result.readonly,
          viewReused: !result.viewBuilt,
          paths: result.paths,
          seconds: (performance.now() - started) / 1000,
          phases: result.phases,
        });
      }
      return result;
    } catch (error) {
      this.events.emit({
        kind: 'publish-failed',
        workload,
        volumeId: request.volumeId,
        ...failureFacts(error),
        seconds: (performance.now() - started) / 1000,
        targetPath: request.targetPath,
        ...(phase.current ? { phase: phase.current } : {}),
      });
      throw error;
    }
  }

  private async publishOnce(request: PublishRequest, log: Logger, phase: PhaseTimer): Promise<PublishResult & { readonly: boolean; paths: number; phases: PublishPhases }> {
    const held = await this.lifecycle.hold(request.targetPath);
    try {
      return await this.publishHeld(request, held, log, phase);
    } finally {
      held.release();
    }
  }

  private async publishHeld(request: PublishRequest, held: HeldTarget, log: Logger, phase: PhaseTimer): Promise<PublishResult & { readonly: boolean; paths: number; phases: PublishPhases }> {
    const key = volumeKey(request.targetPath);
    // Read under the lock on the staging path, so no unstage releases the view between this and the mount.
    const staged: StagedView | undefined = request.stagingPath === undefined ? undefined : this.stager.stagedView(request.volumeId, request.stagingPath);
    const readonly = request.readonly || READER_MODES.has(request.accessMode);
    const specKey = request.specFingerprint ?? specFingerprint(request.spec);
    const fingerprint = JSON.stringify({
      spec: specKey,
      readonly,
      mode: request.accessMode,
      flags: [...request.mountFlags].sort(),
      ...(staged ? { staging: staged.stagingPath } : {}),
    });

    const origin = request.origin ?? 'csi';
    const existing = this.state.get(key);
    if (existing) {
      // Before anything else: the other side's record is neither republished nor replaced.
      if (!mayActOn(existing, origin)) throw otherOrigin(existing, origin);
      if (existing.volumeId !== request.volumeId) {
        throw new AlreadyExistsError(`target ${request.targetPath} already holds volume ${existing.volumeId}`);
      }
      if (existing.requestFingerprint !== fingerprint) {
        throw new AlreadyExistsError(`volume ${request.volumeId} is already published at ${request.targetPath} with other arguments`);
      }
      if (await this.lifecycle.isMounted(request.targetPath, existing)) {
        const claim = claimed(existing, origin);
        if (claim) await this.state.put(claim);
        return {
          targetPath: request.targetPath, viewKey: existing.viewKey, roots: existing.roots, viewBuilt: false, alreadyPublished: true,
          readonly, paths: 0, phases: { realise: 0, view: 0, mount: 0 },
        };
      }
      // A record without its mount (the node rebooted, or a crash mid-publish): start afresh.
      log.warn({ target: request.targetPath }, 'record found without its mount; publishing again');
      await this.lifecycle.detach(this.records, existing, request.targetPath, log);
    }

    if (SINGLE_TARGET_MODES.has(request.accessMode)) {
      // Volume ids are each side's own: a host volume and a CSI volume may share one.
      const other = this.state.find((record) => record.volumeId === request.volumeId && mayActOn(record, origin));
      if (other) {
        throw new FailedPreconditionError(`volume ${request.volumeId} is ${request.accessMode} and already published at ${other.targetPath}`);
      }
    }

    let roots: string[];
    let view: AcquiredView;
    let paths = 0;
    phase.begin();
    if (staged) {
      roots = staged.roots;
      phase.end('realise');
      view = await this.views.acquireExisting(staged.viewKey);
    } else {
      const prepared = await this.source.prepare(request.spec, log, {
        fingerprint: specKey,
        waitMs: request.realiseWaitMs,
        onProgress: (summary, seconds) =>
          this.events.emit({ kind: 'realise-progress', workload: request.workload ?? {}, volumeId: request.volumeId, targetPath: request.targetPath, summary, seconds }),
      });
      roots = prepared.roots;
      paths = prepared.closure.length;
      phase.end('realise');
      view = await this.views.acquire(prepared, { writable: !readonly });
    }
    phase.end('view');
    await this.lifecycle.attach(
      {
        path: request.targetPath,
        held,
        view,
        readonly,
        flags: request.mountFlags,
        records: this.records,
        record: (made): VolumeRecord => ({
          key: made.key,
          volumeId: request.volumeId,
          targetPath: request.targetPath,
          readonly,
          accessMode: request.accessMode,
          requestFingerprint: fingerprint,
          viewKey: view.key,
          roots,
          ...(made.overlayDir ? { overlayDir: made.overlayDir } : {}),
          createdPath: made.createdPath,
          ...(staged ? { stagingPath: staged.stagingPath } : {}),
          publishedAt: this.clock.now().toISOString(),
          origin,
        }),
      },
      log,
    );
    phase.end('mount');
    log.info({ target: request.targetPath, view: view.key, readonly, viewBuilt: view.built }, 'volume published');
    return {
      targetPath: request.targetPath, viewKey: view.key, roots, viewBuilt: view.built, alreadyPublished: false,
      readonly, paths, phases: phase.phases,
    };
  }

  /**
   * Unmounts and forgets the volume at `targetPath`. Absent or already gone is OK
   * (idempotent); a target holding another volume is NOT_FOUND for this one. The caller
   * holds the lock of mountClaims.unpublish (NodeVolumes.unpublish takes it).
   */
  async unpublish(volumeId: string, targetPath: string, log: Logger = this.log, options: UnpublishOptions = {}): Promise<{ wasPublished: boolean }> {
    const origin = options.origin ?? 'csi';
    const parentAt = options.parentAt;
    const started = performance.now();
    const outcome = await this.unpublishOnce(volumeId, targetPath, origin, log, parentAt);
    this.events.emit({ kind: 'unpublish-finished', volumeId, wasPublished: outcome.wasPublished, seconds: (performance.now() - started) / 1000 });
    return outcome;
  }

  private async unpublishOnce(volumeId: string, targetPath: string, origin: VolumeOrigin, log: Logger, parentAt?: string): Promise<{ wasPublished: boolean }> {
    const record = this.state.get(volumeKey(targetPath));
    if (!record) {
      const unmounted = await this.lifecycle.detachUnrecorded(targetPath, (key) => this.state.get(key) !== undefined, log);
      return { wasPublished: unmounted };
    }
    if (!mayActOn(record, origin)) throw otherOrigin(record, origin);
    if (record.volumeId !== volumeId) {
      throw new NotFoundError(`target ${targetPath} holds volume ${record.volumeId}, not ${volumeId}`);
    }
    await this.lifecycle.detach(this.records, record, targetPath, log, parentAt);
    log.info({ target: targetPath, view: record.viewKey }, 'volume unpublished');
    return { wasPublished: true };
  }

  /** Whether `volumeId` has a record of CSI's at `targetPath` (canonical), whatever the path leads to now. */
  isRecorded(volumeId: string, targetPath: string): boolean {
    const record = this.state.get(volumeKey(targetPath));
    return record !== undefined && record.volumeId === volumeId && mayActOn(record, 'csi');
  }

  /**
   * Unpublishes the volume at `targetPath`, a path that now goes through a symlink (see
   * MountLifecycle.detachMoved): never walked, a recorded mount found by what its record proves (its mount id, or a read-write volume's overlay by its upper directory). CSI's only: a
   * host volume is never found by id. With no record (an earlier call finished and its
   * answer was lost, or the swap refused the publish) it is OK, as CSI asks of a repeated
   * unpublish, once the mount table shows every mount of ours where a record puts it: then
   * none can be at this path. A mount of ours that no record places could be this
   * volume's: FAILED_PRECONDITION, and nothing is touched. The caller holds the lock of
   * mountClaims.unpublish (NodeVolumes.unpublishMoved takes it).
   */
  async unpublishMoved(volumeId: string, targetPath: string, log: Logger = this.log): Promise<{ wasPublished: boolean }> {
    const started = performance.now();
    const record = this.state.get(volumeKey(targetPath));
    if (record && !mayActOn(record, 'csi')) throw otherOrigin(record, 'csi');
    if (record && record.volumeId !== volumeId) throw new NotFoundError(`target ${targetPath} holds volume ${record.volumeId}, not ${volumeId}`);
    // A bind of the view at another record's target is that volume's, not a candidate for this one.
    const elsewhere = (mountPoint: string) => {
      const other = this.state.get(volumeKey(mountPoint));
      return other !== undefined && other.key !== record?.key;
    };
    if (record) {
      await this.lifecycle.detachMoved(this.records, record, targetPath, elsewhere, log);
    } else {
      const recorded = new Set([...this.state.list().map((each) => each.targetPath), ...this.stager.stagingPaths()]);
      const unplaced = await this.lifecycle.unrecordedMounts(recorded);
      if (unplaced.length > 0) {
        throw new FailedPreconditionError(
          `${targetPath} goes through a symlink and holds no record, but mounts of nixmount that no record places exist (${unplaced.slice(0, 3).join(', ')}${unplaced.length > 3 ? ', …' : ''}); one could be this volume's: check the mount table and unmount it by hand`,
        );
      }
    }
    this.events.emit({ kind: 'unpublish-finished', volumeId, wasPublished: Boolean(record), seconds: (performance.now() - started) / 1000 });
    return { wasPublished: Boolean(record) };
  }

  async usage(volumeId: string, path: string): Promise<{ usage: VolumeUsage; mounted: boolean }> {
    const record = this.state.get(volumeKey(path));
    // Stats are CSI's question: a host volume at the path is no CSI volume there.
    if (!record || record.volumeId !== volumeId || !mayActOn(record, 'csi')) {
      throw new NotFoundError(`volume ${volumeId} is not published at ${path}`);
    }
    const mounted = await this.lifecycle.isMounted(path, record);
    return { usage: await this.dirs.usage(mounted ? path : this.views.nixDir(record.viewKey)), mounted };
  }
}

interface PhaseTimer {
  /** The pipeline starts (after the checks): the first phase runs from now. */
  begin(): void;
  end(name: keyof PublishPhases): void;
  phases: PublishPhases;
  /** The phase running now (the one a failure happened in); undefined before `begin` and after the last `end`. */
  readonly current: keyof PublishPhases | undefined;
}

const PHASE_ORDER: readonly (keyof PublishPhases)[] = ['realise', 'view', 'mount'];

/** Times consecutive phases: each `end` closes the phase that ran since the previous one. */
function phaseTimer(): PhaseTimer {
  const phases: PublishPhases = { realise: 0, view: 0, mount: 0 };
  let mark = performance.now();
  let index = -1;
  return {
    phases,
    get current() {
      return index >= 0 ? PHASE_ORDER[index] : undefined;
    },
    begin() {
      mark = performance.now();
      index = 0;
    },
    end(name) {
      const now = performance.now();
      phases[name] = (now - mark) / 1000;
      mark = now;
      index = PHASE_ORDER.indexOf(name) + 1;
    },
  };
}
