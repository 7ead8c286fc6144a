import type { Workload } from './ports/node-events.js';
import type { VolumeOrigin } from './volume-origin.js';
import type { VolumeSpec } from './volume-spec.js';

/** CSI access modes in orchestrator-neutral words. */
export type AccessMode =
  | 'single-node-writer'
  | 'single-node-reader-only'
  | 'multi-node-reader-only'
  | 'multi-node-single-writer'
  | 'multi-node-multi-writer'
  | 'single-node-single-writer'
  | 'single-node-multi-writer';

/** Modes under which a volume may be published at one target only. */
export const SINGLE_TARGET_MODES: ReadonlySet<AccessMode> = new Set(['single-node-writer', 'single-node-single-writer']);

export interface PublishRequest {
  volumeId: string;
  targetPath: string;
  readonly: boolean;
  accessMode: AccessMode;
  /** Extra mount flags from the capability (validated by the edge). */
  mountFlags: string[];
  spec: VolumeSpec;
  /** specFingerprint(spec), when the caller computed it already (NodeVolumes does, once per request). */
  specFingerprint?: string;
  /**
   * Publish from the volume staged at this (canonical) staging path: mount its view
   * without resolving the spec again. FAILED_PRECONDITION when it is not staged there.
   */
  stagingPath?: string;
  /** Who asked, as the adapter read it (for the node's events; logs get it from the logger). */
  workload?: Workload;
  /**
   * How long this call waits for the closure before answering ABORTED (the work goes on),
   * when the caller has its own deadline (a Nomad host volume's); the node's setting otherwise.
   */
  realiseWaitMs?: number;
  /** Who publishes (recorded; see VolumeOrigin); CSI unless given. */
  origin?: VolumeOrigin;
  /**
   * Epoch ms after which the caller no longer waits for this answer (a Nomad host
   * volume's plugin, which has told Nomad the create failed by then). A publish that
   * would begin later is refused; one that made the volume later is undone, so nothing
   * stays that its caller was told does not exist.
   */
  answerBy?: number;
}

/** What NodeStageVolume left for the publishes from one staging path. */
export interface StagedView {
  stagingPath: string;
  viewKey: string;
  roots: string[];
}

export interface PublishResult {
  targetPath: string;
  viewKey: string;
  roots: string[];
  /** Whether this call built the view (false when an existing view was reused). */
  viewBuilt: boolean;
  /** True when the volume was already published with the same arguments. */
  alreadyPublished: boolean;
}
