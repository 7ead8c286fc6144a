/**
 * The adapter interface and the types it answers with, as the SDK publishes them. The core
 * keeps its own declarations (src/core may import nothing from outside itself);
 * test/sdk/sdk-types.ts fails the build unless both are the same types, so an adapter
 * written against these is exactly what the core calls.
 */

/** What a user asked for, independent of the orchestrator that carried the request. */
export interface VolumeSpec {
  /** From the `paths` key: store paths (`/nix/store/…`), several roots allowed. */
  storePaths: string[];
  /** From `<system>` keys, e.g. `{ "x86_64-linux": [...] }`; only the node's own system is used. */
  systemPaths: Record<string, string[]>;
  /** From the `expression` key: Nix expression text (a derivation, or a function taking `{}`). */
  expression?: string;
  /** From the `flakeRef` key: a flake installable. */
  flakeRef?: string;
}

/** What `nodeIdentity()` answers: NodeGetInfo's reply. */
export interface NodeIdentity {
  /** The node's id as the orchestrator knows it: the `nodeId` given to `create`. */
  nodeId: string;
  /** The most volumes the orchestrator may place on this node; 0 means no limit. */
  maxVolumesPerNode: number;
  /** Topology segments (key → value) a volume's accessibility requirements can match; `{}` for none. */
  topology: Record<string, string>;
}

/** What `parseVolumeContext` answers. */
export interface ParsedVolumeContext {
  /**
   * The user's keys read into a spec: exactly what `parseUserContext` returns for them. The
   * user keys (`paths`, `expression`, `flakeRef`, a system such as `x86_64-linux`) reach it
   * unchanged: an adapter removes only its orchestrator's own keys, never renames, rewrites,
   * defaults or drops a user key (the test kit's "user keys" check).
   */
  spec: VolumeSpec;
  /**
   * The volume's lifetime is its workload's (Kubernetes inline volumes). Reported in the
   * call's log fields only; nothing else depends on it.
   */
  ephemeral: boolean;
  /** Who asked (pod, allocation…), from the orchestrator's own keys, for logs only; `{}` when unknown. */
  workload: Record<string, string>;
  /**
   * Optional: what the orchestrator adds to `spec` beyond the context (the Kubernetes adapter
   * reads the store paths a pod's containers name from the API server). Awaited once per
   * publish or stage before anything is mounted; resolves to the whole spec, and its errors
   * are the call's, with their codes.
   */
  completeSpec?: () => Promise<VolumeSpec>;
}

/**
 * What differs per orchestrator: nixmount's core and CSI layer only talk to this. Every
 * method throws one of the SDK's errors (`InvalidArgumentError`…) to refuse an input.
 */
export interface OrchestratorAdapter {
  /** The module's name. */
  readonly name: string;
  /**
   * Whether the plugin advertises STAGE_UNSTAGE_VOLUME under this orchestrator. Only for
   * orchestrators that stage every volume: advertising it makes a publish without a
   * staging path FAILED_PRECONDITION (kubelet never stages inline volumes).
   */
  readonly supportsStaging: boolean;
  /**
   * Reads a CSI volume context (user keys plus the orchestrator's own) into a spec. The
   * orchestrator's keys are the ones it adds itself (identity of the workload, flags of its
   * own); every other key is the user's and goes unchanged to `parseUserContext` (usually
   * through `parseUserKeys`), which refuses an unknown one by name. An unknown key inside
   * the orchestrator's own prefix is refused the same way (see `splitContext`). Serve has
   * checked the context's bounds (`assertContextBounds`) before this is called.
   */
  parseVolumeContext(context: Readonly<Record<string, string>>): ParsedVolumeContext;
  /**
   * Who asked, read from a context whose user keys may be refused (so that a refusal can
   * still be reported to the workload). Never throws. Optional.
   */
  workloadOf?(context: Readonly<Record<string, string>>): Record<string, string>;
  /** The node's identity; the same answer on every call. */
  nodeIdentity(): NodeIdentity;
  /**
   * Returns the one canonical form of a target path this orchestrator would send (records
   * and locks are keyed by it). Throws InvalidArgumentError for any other path: relative,
   * with `.`/`..`, NUL or over-long parts, outside the orchestrator's directories, through a
   * symlink below them, or being, inside or hiding a protected directory.
   */
  checkTargetPath(path: string): string;
  /**
   * The same for staging paths. An adapter whose `supportsStaging` is false is never sent
   * one (serve refuses it first), and still refuses what it refuses as a target; refusing
   * every path is the simplest way.
   */
  checkStagingPath(path: string): string;
}
