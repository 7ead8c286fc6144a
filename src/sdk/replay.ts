/**
 * An orchestrator's side of the CSI node protocol, described by an adapter module so
 * the test kit can replay it against a real `nixmount serve`: which calls it makes,
 * in which order, with which paths and volume context. Types only.
 */

/** CSI access modes (csi.proto VolumeCapability.AccessMode.Mode). */
export type AccessMode =
  | 'SINGLE_NODE_WRITER'
  | 'SINGLE_NODE_READER_ONLY'
  | 'MULTI_NODE_READER_ONLY'
  | 'MULTI_NODE_SINGLE_WRITER'
  | 'MULTI_NODE_MULTI_WRITER'
  | 'SINGLE_NODE_SINGLE_WRITER'
  | 'SINGLE_NODE_MULTI_WRITER';

/** Calls without a volume, as the orchestrator makes them while registering the plugin. */
export type IdentityCall = 'Probe' | 'GetPluginInfo' | 'GetPluginCapabilities' | 'NodeGetInfo' | 'NodeGetCapabilities';

export type ReplayStep =
  /** The orchestrator asks something of the plugin before or between volumes. */
  | { readonly kind: 'call'; readonly method: IdentityCall }
  /** The orchestrator creates a directory (with its parents) itself. */
  | { readonly kind: 'mkdir'; readonly path: string }
  /** The orchestrator removes a directory it created (after unpublishing); an absent one is fine. */
  | { readonly kind: 'rmdir'; readonly path: string }
  | {
      readonly kind: 'stage';
      readonly volumeId: string;
      readonly stagingPath: string;
      readonly accessMode: AccessMode;
      /** The whole volume context as the orchestrator sends it: the user's keys and its own. */
      readonly volumeContext: Readonly<Record<string, string>>;
    }
  | {
      readonly kind: 'publish';
      readonly volumeId: string;
      readonly targetPath: string;
      readonly stagingPath?: string;
      readonly accessMode: AccessMode;
      readonly readonly: boolean;
      readonly volumeContext: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'unpublish'; readonly volumeId: string; readonly targetPath: string }
  | { readonly kind: 'unstage'; readonly volumeId: string; readonly stagingPath: string };

/** What the kit asks the orchestrator to do with one volume. */
export interface ReplayVolume {
  /** A volume id that the kit chose (unique per run). */
  readonly volumeId: string;
  /**
   * The user's keys (what a person wrote in the orchestrator's volume definition). The
   * steps' `volumeContext` carries them unchanged, with the orchestrator's own keys (those
   * it sends in every real request, e.g. kubelet's `csi.storage.k8s.io/pod.name`) added:
   * the kit's "orchestrator keys" check reads them from there.
   */
  readonly userContext: Readonly<Record<string, string>>;
}

export interface OrchestratorReplay {
  /**
   * Optional: prefixes under which the orchestrator itself adds keys this adapter does not
   * know and must ignore, because the orchestrator adds more over its releases (kubelet's
   * `csi.storage.k8s.io/`: `serviceAccount.tokens` came with tokenRequests). Say it only of
   * a prefix reserved to the orchestrator itself. The kit checks that an unknown key under such a prefix
   * changes nothing; under every other prefix of the replay's own keys it checks that an
   * unknown key is refused by name (INVALID_ARGUMENT), as any other unknown key is.
   */
  readonly openKeyPrefixes?: readonly string[];
  /**
   * The adapter options that make the adapter accept the paths this replay uses, all
   * below `root` (an empty directory the kit made on the store's file system).
   */
  options(root: string): Record<string, string>;
  /**
   * The orchestrator's whole life of one volume on one node, in its order: registering
   * the plugin, staging and publishing to each workload, then unpublishing and
   * unstaging, and the directories it makes and removes itself. The kit checks that
   * every publish mounted the closure and that nothing is left at the end.
   */
  steps(root: string, volume: ReplayVolume): ReplayStep[];
}
