export const ViewStore = Symbol('ViewStore');

export interface ViewContents {
  /** The requested roots; `nix/var/result` points at them. */
  roots: readonly string[];
  /** Every store path of the closure, logical and where its files are. */
  paths: ReadonlyArray<{ storePath: string; physicalPath: string }>;
  /** Registers the closure in a Nix database below the given directory (the view's root). */
  register(rootDir: string): Promise<void>;
}

/**
 * Content-addressed views: one directory per closure holding hardlinks into the
 * node store, a Nix database and `nix/var/result`. A view appears complete or not
 * at all (built aside, then renamed).
 */
export interface ViewStore {
  /** The directory that becomes the workload's /nix. */
  nixDir(key: string): string;
  exists(key: string): Promise<boolean>;
  materialize(key: string, contents: ViewContents): Promise<void>;
  remove(key: string): Promise<void>;
  list(): Promise<string[]>;
  /** Remove half-built or half-deleted views a crash left behind. */
  sweepLeftovers(): Promise<string[]>;
}
