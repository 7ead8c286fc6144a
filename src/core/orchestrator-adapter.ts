import type { VolumeSpec } from './volume-spec.js';

export const OrchestratorAdapter = Symbol('OrchestratorAdapter');

export interface NodeIdentity {
  nodeId: string;
  /** 0 means no limit. */
  maxVolumesPerNode: number;
  /** Topology segments a volume's accessibility requirements can match. */
  topology: Record<string, string>;
}

export interface ParsedVolumeContext {
  spec: VolumeSpec;
  /**
   * Inline volume whose lifetime is the workload's (Kubernetes ephemeral). Reported in the
   * call's log fields only: every unpublish of a forgotten volume is OK, ephemeral or not
   * (kubelet retries NOT_FOUND for ever, kubernetes#90752), so nothing else depends on it.
   */
  ephemeral: boolean;
  /** Who asked (pod, allocation…), for logs only. */
  workload: Record<string, string>;
  /**
   * Optional: what the orchestrator adds to `spec` beyond the context, read once per
   * publish or stage before anything is mounted (Kubernetes: the store paths its pod spec
   * names). Resolves to the whole spec; its errors are the call's, with their codes.
   */
  completeSpec?: () => Promise<VolumeSpec>;
}

/**
 * What differs per orchestrator. The core and the CSI layer only talk to this
 * interface; Kubernetes, Nomad and local are implementations, and third parties
 * can write more.
 */
export interface OrchestratorAdapter {
  readonly name: string;
  /**
   * Whether the plugin advertises STAGE_UNSTAGE_VOLUME under this orchestrator. Only
   * for orchestrators that stage every volume: advertising it makes a publish without
   * a staging path FAILED_PRECONDITION (kubelet never stages inline volumes).
   */
  readonly supportsStaging: boolean;
  /** Reads a CSI volume context (user keys plus the orchestrator's own) into a spec. */
  parseVolumeContext(context: Readonly<Record<string, string>>): ParsedVolumeContext;
  /**
   * Who asked, read from a context whose user keys may be refused (so that a refusal can
   * still be reported to the workload, e.g. as a Kubernetes Event). Never throws. Optional.
   */
  workloadOf?(context: Readonly<Record<string, string>>): Record<string, string>;
  nodeIdentity(): NodeIdentity;
  /**
   * Returns the canonical form of a target path this orchestrator would send (absolute,
   * no `//`, no trailing `/`, no `.`/`..`, ≤ 4096 bytes, components ≤ 255 bytes): the one
   * form that keys records and locks. Throws InvalidArgumentError for any other path, for
   * one that goes through a symlink (any existing component below the orchestrator's root,
   * checked without following links) and for one that is, is inside or would hide a
   * protected directory (the state dir, /nix, the store's root). Called on every call
   * that names a path: publish, unpublish, stats.
   */
  checkTargetPath(path: string): string;
  /** Same for staging paths (stage, unstage, and the staging path of a publish). */
  checkStagingPath(path: string): string;
}
