import { inject, injectable } from 'inversify';
import { CachePusher } from './cache-pusher.js';
import { Logger } from './ports/logger.js';
import { NixStore, type Closure, type RealiseEvent } from './ports/nix-store.js';
import { NodeEvents } from './ports/node-events.js';
import { RealisationTracker, type ProgressListener } from './realisation-tracker.js';
import { RootedClosures, type PreparedRoots } from './rooted-closures.js';
import { errorKind, StorePathsUnavailableError } from './errors.js';
import type { RealiseProgress } from './realise-progress.js';
import { Resolver } from './resolver.js';
import { SourceSettings, checkSourcePolicy } from './source-settings.js';
import { specFingerprint, type VolumeSpec } from './volume-spec.js';

export interface PrepareOptions {
  /** specFingerprint(spec), when the caller computed it already: the realisation is keyed on it. */
  fingerprint?: string;
  /** Evaluate expressions and flakes again now, and forget a remembered failure. */
  refresh?: boolean;
  /** This call's wait for the work (see RealisationTracker.run); the node's realiseWaitMs otherwise. */
  waitMs?: number;
  /** Hears this call's wait for the realisation (see RealisationTracker.run). */
  onProgress?: ProgressListener;
}

/** A short description of a spec for logs and retry messages (never the whole expression). */
export function describeSource(spec: VolumeSpec): string {
  const parts: string[] = [];
  const paths = spec.storePaths.length + Object.values(spec.systemPaths).reduce((n, list) => n + list.length, 0);
  if (paths > 0) parts.push(`${paths} store path(s)`);
  if (spec.expression !== undefined) parts.push('an expression');
  if (spec.flakeRef !== undefined) parts.push(`flake ${spec.flakeRef}`);
  return parts.join(' + ');
}

/**
 * Resolve and realise: from what the user named to roots valid in the node
 * store. Publishing and staging both start here.
 *
 * The source policy is checked first; then one piece of work per source (see
 * RealisationTracker) evaluates, substitutes or builds, and queues what it
 * realised for the node's cache. It does nothing a failure would have to undo: Nix adds valid paths or
 * nothing, and no GC root is taken before a view exists.
 */
@injectable()
export class ClosureSource {
  constructor(
    @inject(Resolver) private readonly resolver: Resolver,
    @inject(NixStore) private readonly nix: NixStore,
    @inject(RealisationTracker) private readonly tracker: RealisationTracker,
    @inject(RootedClosures) private readonly rooted: RootedClosures,
    @inject(SourceSettings) private readonly settings: SourceSettings,
    @inject(Logger) private readonly log: Logger,
    @inject(NodeEvents) private readonly events: NodeEvents,
    @inject(CachePusher) private readonly pusher: CachePusher,
  ) {}

  /** The roots `spec` names, valid in the node store, with their closure. */
  async prepare(spec: VolumeSpec, log: Logger = this.log, options: PrepareOptions = {}): Promise<PreparedRoots> {
    checkSourcePolicy(spec, this.settings.policy);
    const key = options.fingerprint ?? specFingerprint(spec);
    if (options.refresh) this.tracker.forget(key);
    return this.tracker.run(key, describeSource(spec), (progress) => this.realise(spec, progress, log, options), log, {
      waitMs: options.waitMs,
      onProgress: options.onProgress,
    });
  }

  private async realise(spec: VolumeSpec, progress: RealiseProgress, log: Logger, options: PrepareOptions): Promise<PreparedRoots> {
    progress.phase = 'evaluating';
    const resolved = await this.resolver.resolve(spec, { refresh: options.refresh, log });
    const { roots } = resolved;
    const known = this.rooted.closureOf(roots);
    if (known) return { roots, closure: known };
    progress.phase = 'checking';
    const answer = await this.nix.queryClosure(roots);
    if (answer.valid) return prepared(roots, answer.closure);
    const missing = answer.missing;

    progress.phase = 'realising';
    log.info({ paths: missing, mayBuild: this.settings.policy.allowBuilds }, 'realising store paths missing from the node store');
    const targets = missing.map((path) => resolved.targets.get(path) ?? path);
    const started = performance.now();
    const finished = (ok: boolean, error?: unknown) =>
      this.events.emit({
        kind: 'realise-finished', ok, ...progress.counts(), seconds: (performance.now() - started) / 1000,
        ...(ok ? {} : { reason: errorKind(error) }),
      });
    try {
      await this.nix.realise(targets, {
        mayBuild: this.settings.policy.allowBuilds,
        onEvent: (event) => {
          progress.apply(event);
          logRealiseEvent(log, event, progress);
        },
      });
    } catch (error) {
      finished(false, error);
      throw error;
    }
    finished(true);

    // In the background: the volume does not wait for the cache (see CachePusher).
    this.pusher.push(missing);
    const realised = await this.nix.queryClosure(roots);
    if (!realised.valid) throw new StorePathsUnavailableError(realised.missing, 'still missing after Nix reported them realised');
    return prepared(roots, realised.closure);
  }
}

/** The roots with their closure, carrying the store's registration of it to the view. */
function prepared(roots: string[], closure: Closure): PreparedRoots {
  return { roots, closure: closure.paths, ...(closure.registration ? { registration: closure.registration } : {}) };
}

function logRealiseEvent(log: Logger, event: RealiseEvent, progress: RealiseProgress): void {
  switch (event.kind) {
    case 'plan':
      log.info({ fetch: event.fetch, build: event.build, downloadMiB: event.downloadMiB }, 'realise plan');
      break;
    case 'fetching':
      log.info({ path: event.path, from: event.from, progress: progress.summary() }, 'fetching store path');
      break;
    case 'building':
      log.info({ derivation: event.derivation, progress: progress.summary() }, 'building derivation');
      break;
    case 'log':
      log.debug({ line: event.line }, 'build log');
      break;
  }
}
