import { FailedPreconditionError, InvalidArgumentError, failureFacts } from './errors.js';
import type { OrchestratorAdapter, ParsedVolumeContext } from './orchestrator-adapter.js';
import type { Logger } from './ports/logger.js';
import type { NodeEvents } from './ports/node-events.js';
import type { VolumeUsage } from './ports/volume-dirs.js';
import { mountClaims } from './mount-claims.js';
import type { PathLocks, WhenBusy } from './path-locks.js';
import { quote } from './quote.js';
import type { VolumeOrigin } from './volume-origin.js';
import type { UnpublishOptions, VolumePublisher } from './volume-publisher.js';
import type { AccessMode, PublishResult } from './volume-request.js';
import { specFingerprint } from './volume-spec.js';
import type { StageResult, VolumeStager } from './volume-stager.js';

/** What an entrance's orchestrator says of volume contexts and staging (its adapter). */
export type VolumeContextReader = Pick<OrchestratorAdapter, 'name' | 'supportsStaging' | 'parseVolumeContext' | 'workloadOf'>;

/** A publish as an entrance hands it over: its own wire format read, its paths checked (canonical), the context still as sent. */
export interface PublishCall {
  volumeId: string;
  targetPath: string;
  /** The staging path the orchestrator named; required when it stages, refused when it does not. */
  stagingPath?: string;
  readonly: boolean;
  accessMode: AccessMode;
  mountFlags: string[];
  /** The volume context as the orchestrator sent it: read here, once, into the spec. */
  context: Readonly<Record<string, string>>;
  /** The caller's own deadline for the closure (see PublishRequest.realiseWaitMs). */
  realiseWaitMs?: number;
  /** A busy target or staging path: refused (ABORTED) unless given. */
  whenBusy?: WhenBusy;
  /** When the caller stops waiting for the answer (see PublishRequest.answerBy). */
  answerBy?: number;
  origin?: VolumeOrigin;
  /**
   * Run once the request is accepted (its context read), under the path locks, before
   * the pipeline: what the entrance must do first that a refused request must not
   * leave behind (a Nomad host volume makes its target's parent directories).
   */
  beforePublish?: () => Promise<void>;
}

export interface StageCall {
  volumeId: string;
  stagingPath: string;
  accessMode: AccessMode;
  context: Readonly<Record<string, string>>;
}

/** The core services the front door runs the work on (the composition root hands them over). */
export interface NodeVolumesParts {
  publisher: VolumePublisher;
  stager: VolumeStager;
  locks: PathLocks;
  events: NodeEvents;
  log: Logger;
}

/**
 * The one front door into the node's volumes, whichever entrance a request comes by (the
 * CSI node service, `nixmount publish`, the Nomad host volume plugin): each entrance reads
 * its own wire format, checks its paths, calls this and maps its domain errors. Here, for
 * all of them alike, and in this order: the volume context is read into a spec once
 * (with what the orchestrator adds, `completeSpec`), and a refused context is told to the
 * node's listeners as a failed publish of its workload; whether the publish mounts from a
 * stage is decided from the orchestrator's staging; the spec's fingerprint is computed
 * once (the request's record and the realisation share it); then the node's path locks
 * (mountClaims) are taken for the whole run, so two operations on one target or staging
 * path never interleave; and the publisher or stager, under them, tells a repeat
 * (idempotent OK) from a conflict (ALREADY_EXISTS) by that fingerprint.
 */
export class NodeVolumes {
  constructor(
    private readonly parts: NodeVolumesParts,
    private readonly adapter: VolumeContextReader,
  ) {}

  async publish(call: PublishCall, log: Logger = this.parts.log): Promise<PublishResult> {
    const context = await this.readContext(call);
    const stagingPath = this.stagingPathOf(call.stagingPath);
    const callLog = log.child(workloadFields(context));
    const fingerprint = specFingerprint(context.spec);
    const asked = performance.now();
    const claim = mountClaims.publish(call.targetPath, stagingPath);
    return this.parts.locks.run(claim, `publish of volume ${quote(call.volumeId)}`, call.whenBusy ?? 'refuse', async () => {
      // A caller's own deadline counts the time spent waiting for the path.
      const waited = performance.now() - asked;
      await call.beforePublish?.();
      const realiseWaitMs = call.realiseWaitMs === undefined || waited < 1 ? call.realiseWaitMs : Math.max(1, call.realiseWaitMs - waited);
      return this.parts.publisher.publish(
        {
          volumeId: call.volumeId,
          targetPath: call.targetPath,
          readonly: call.readonly,
          accessMode: call.accessMode,
          mountFlags: call.mountFlags,
          spec: context.spec,
          specFingerprint: fingerprint,
          ...(stagingPath ? { stagingPath } : {}),
          workload: context.workload,
          ...(realiseWaitMs === undefined ? {} : { realiseWaitMs }),
          ...(call.answerBy === undefined ? {} : { answerBy: call.answerBy }),
          ...(call.origin ? { origin: call.origin } : {}),
        },
        callLog,
      );
    });
  }

  /** Unmounts and forgets the volume at `targetPath` (see VolumePublisher.unpublish), under the target's lock. */
  unpublish(volumeId: string, targetPath: string, log: Logger = this.parts.log, options: UnpublishOptions = {}): Promise<{ wasPublished: boolean }> {
    return this.parts.locks.run(mountClaims.unpublish(targetPath), `unpublish of volume ${quote(volumeId)}`, options.whenBusy ?? 'refuse', () =>
      this.parts.publisher.unpublish(volumeId, targetPath, log, options),
    );
  }

  /** Unpublishes a recorded volume whose path now goes through a symlink (see VolumePublisher.unpublishMoved); CSI's only, never waits. */
  unpublishMoved(volumeId: string, targetPath: string, log: Logger = this.parts.log): Promise<{ wasPublished: boolean }> {
    return this.parts.locks.run(mountClaims.unpublish(targetPath), `unpublish of volume ${quote(volumeId)}`, 'refuse', () =>
      this.parts.publisher.unpublishMoved(volumeId, targetPath, log),
    );
  }

  /** Whether `volumeId` has a CSI record at `targetPath` (canonical). */
  isRecorded(volumeId: string, targetPath: string): boolean {
    return this.parts.publisher.isRecorded(volumeId, targetPath);
  }

  usage(volumeId: string, path: string): Promise<{ usage: VolumeUsage; mounted: boolean }> {
    return this.parts.publisher.usage(volumeId, path);
  }

  /** Stages (orchestrators that stage only); refused (ABORTED) while the staging path is busy. */
  async stage(call: StageCall, log: Logger = this.parts.log): Promise<StageResult> {
    if (!this.adapter.supportsStaging) throw this.noStaging(call.stagingPath);
    const context = await completed(this.adapter.parseVolumeContext(call.context));
    const callLog = log.child(workloadFields(context));
    const fingerprint = specFingerprint(context.spec);
    return this.parts.locks.run(mountClaims.stage(call.stagingPath), `stage of volume ${quote(call.volumeId)}`, 'refuse', () =>
      this.parts.stager.stage({ volumeId: call.volumeId, stagingPath: call.stagingPath, accessMode: call.accessMode, spec: context.spec, specFingerprint: fingerprint }, callLog),
    );
  }

  /** Unstages (see VolumeStager.unstage); `parentAt` as for unpublish. */
  unstage(volumeId: string, stagingPath: string, log: Logger = this.parts.log, parentAt?: string): Promise<{ wasStaged: boolean }> {
    return this.parts.locks.run(mountClaims.unstage(stagingPath), `unstage of volume ${quote(volumeId)}`, 'refuse', () =>
      this.parts.stager.unstage(volumeId, stagingPath, log, parentAt),
    );
  }

  /** The call's context read into a spec; a refusal is reported as a failed publish of that workload, then thrown. */
  private async readContext(call: PublishCall): Promise<ParsedVolumeContext> {
    try {
      return await completed(this.adapter.parseVolumeContext(call.context));
    } catch (error) {
      this.parts.events.emit({
        kind: 'publish-failed',
        workload: this.adapter.workloadOf?.(call.context) ?? {},
        volumeId: call.volumeId,
        targetPath: call.targetPath,
        ...failureFacts(error),
        seconds: 0,
      });
      throw error;
    }
  }

  /**
   * Publish from a stage, decided by the orchestrator: one that stages publishes only
   * from a staging path (its every volume is staged first); one that does not stage
   * publishes none from one (the edge refuses the CSI field before this, in its own words).
   */
  private stagingPathOf(stagingPath: string | undefined): string | undefined {
    if (this.adapter.supportsStaging && !stagingPath) {
      throw new FailedPreconditionError('staging_target_path is required: this plugin advertises STAGE_UNSTAGE_VOLUME');
    }
    if (!this.adapter.supportsStaging && stagingPath) throw this.noStaging(stagingPath);
    return stagingPath;
  }

  private noStaging(stagingPath: string): InvalidArgumentError {
    return new InvalidArgumentError(`the ${this.adapter.name} adapter does not stage volumes; ${quote(stagingPath)} cannot be staged or published from`);
  }
}

/** The parsed context with its spec completed by the orchestrator where the adapter does that. */
async function completed(parsed: ParsedVolumeContext): Promise<ParsedVolumeContext> {
  return parsed.completeSpec ? { ...parsed, spec: await parsed.completeSpec() } : parsed;
}

/**
 * The log fields of who asked: the adapter's `workload` under the one key `workload`, so no
 * name an adapter chooses (`level`, `msg`, `volumeId`, `target`…) can shadow a field of
 * serve's own in a call's log lines.
 */
function workloadFields(context: ParsedVolumeContext): Record<string, unknown> {
  return {
    ...(Object.keys(context.workload).length > 0 ? { workload: context.workload } : {}),
    ...(context.ephemeral ? { ephemeral: true } : {}),
  };
}
