export const NixStore = Symbol('NixStore');

/**
 * The node's Nix store. Store paths are logical (`/nix/store/…`); `physicalPath`
 * says where the files of a path really are (different for chroot stores).
 */
export interface NixStore {
  /** The logical store directory, normally /nix/store. */
  readonly storeDir: string;
  /** The Nix system of this node, e.g. x86_64-linux. */
  system(): Promise<string>;
  /** Where the files of a store path live on this machine. */
  physicalPath(storePath: string): string;
  /** The subset of paths that are not valid in the node store. */
  invalidPaths(paths: readonly string[]): Promise<string[]>;
  /** Substitute paths from the configured caches; throws StorePathsUnavailableError naming what could not be had. */
  substitute(paths: readonly string[]): Promise<void>;
  /** All paths the roots reference, the roots included, sorted. */
  closure(roots: readonly string[]): Promise<string[]>;
  /** Write a Nix database registering exactly `paths` (with their hashes and references) under `rootDir`/nix/var/nix/db. */
  writeRegistration(paths: readonly string[], rootDir: string): Promise<void>;
  /** Keep `roots` alive in the node store on behalf of `holder`, replacing what `holder` held before. */
  addGcRoots(holder: string, roots: readonly string[]): Promise<void>;
  /** Drop every GC root `holder` holds. */
  removeGcRoots(holder: string): Promise<void>;
  /** Cheap health check used by Probe: throws when Nix or the store is unusable. */
  check(): Promise<void>;
}
