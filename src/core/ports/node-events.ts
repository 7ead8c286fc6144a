import type { ErrorKind } from '../errors.js';
import type { Presentation, PresentationChoice } from '../view-presentation.js';

export const NodeEvents = Symbol('NodeEvents');

/**
 * Who a volume operation is for, as the adapter read it from the request (a pod,
 * an allocation…): the same fields the call's logs carry. Empty when unknown.
 */
export type Workload = Readonly<Record<string, string>>;

/** The phases of a publish, timed separately (seconds). */
export interface PublishPhases {
  /** Resolve, evaluate and realise: from the volume's spec to roots valid in the store. */
  realise: number;
  /** Find or build the view. */
  view: number;
  /** Directory, record and mount. */
  mount: number;
}

/**
 * Facts the node reports as they happen, for whoever listens (metrics, Kubernetes
 * Events). Listening is best-effort: an emit never throws and never waits, so no
 * listener can fail or slow a publish.
 */
export type NodeEvent =
  | {
      kind: 'publish-finished';
      workload: Workload;
      volumeId: string;
      /** The canonical target path (its last components name the volume, e.g. kubelet's volume name). */
      targetPath: string;
      readonly: boolean;
      /** The view existed before this call (a cache hit), or the call built it. */
      viewReused: boolean;
      /** Store paths in the closure, and their bytes when the store said (NAR size). */
      paths: number;
      bytes?: number;
      seconds: number;
      phases: PublishPhases;
    }
  | {
      kind: 'publish-failed';
      workload: Workload;
      volumeId: string;
      reason: ErrorKind;
      message: string;
      seconds: number;
      targetPath?: string;
      /** The phase that failed; absent when the request failed before the pipeline ran (checks, a bad volume context). */
      phase?: keyof PublishPhases;
      /** Store paths neither the node nor its caches have (StorePathsUnavailableError). */
      missingPaths?: readonly string[];
      /** The derivation whose builder failed (BuildFailedError). */
      failedDerivation?: string;
    }
  | { kind: 'unpublish-finished'; volumeId: string; wasPublished: boolean; seconds: number }
  /** A realisation still running after a while; repeated as it progresses. */
  | { kind: 'realise-progress'; workload: Workload; volumeId: string; targetPath: string; summary: string; seconds: number }
  | { kind: 'realise-finished'; ok: boolean; reason?: ErrorKind; fetched: number; built: number; downloadMiB: number; seconds: number }
  /** One round of pushing realised paths to --push-to; `waiting` is what is still queued after it. */
  | { kind: 'cache-push'; ok: boolean; paths: number; waiting: number; seconds: number }
  | { kind: 'view-built'; viewKey: string; paths: number; seconds: number; presentation?: Presentation }
  /**
   * How a volume's view presents its closure, and why (view-presentation.ts): per
   * volume, warm or cold. `over-budget` and `bind-farm-failed` are fallbacks to hardlinks.
   */
  | {
      kind: 'view-presentation';
      presentation: Presentation;
      reason: PresentationChoice['reason'] | 'bind-farm-failed';
      mountsNeeded?: number;
      mountsAvailable?: number;
    }
  | { kind: 'view-removed'; viewKey: string }
  | { kind: 'store-gc'; outcome: 'ok' | 'failed' | 'timeout'; bytesFreed: number; seconds: number; trigger: 'periodic' | 'realise' | 'command' }
  /**
   * The orchestrator's client speaks to the plugin in a way its server refuses before any
   * handler runs (an old kubelet's or Nomad's HTTP/2 headers): no call of it reaches the
   * node, so nothing else reports it. At most once per client connection.
   */
  | { kind: 'calls-refused' }
  /** One CSI call answered, with its gRPC code name (OK, NOT_FOUND…). */
  | { kind: 'rpc'; method: string; code: string; seconds: number };

export type NodeEventListener = (event: NodeEvent) => void;

export interface NodeEvents {
  emit(event: NodeEvent): void;
  /** Adds a listener; returns a function that removes it. */
  subscribe(listener: NodeEventListener): () => void;
}
