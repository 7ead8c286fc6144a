import type { Presentation } from '../view-presentation.js';

export const ViewStore = Symbol('ViewStore');

export interface ViewContents {
  /** Hardlinks of every file, or one read-only bind per store path; hardlink when absent. */
  presentation?: Presentation;
  /** The requested roots; `nix/var/result` points at them. */
  roots: readonly string[];
  /** Every store path of the closure, logical and where its files are. */
  paths: ReadonlyArray<{ storePath: string; physicalPath: string }>;
  /** Registers the closure in a Nix database below the given directory (the view's root). */
  register(rootDir: string): Promise<void>;
}

export interface SweepResult {
  removed: string[];
  /** Leftovers that could not be removed yet (an orphaned writer still busy); the next sweep retries. */
  left: string[];
  /** Complete views whose mounts (a bind farm's) were gone and were made again. */
  repaired?: string[];
}

/**
 * Content-addressed views: one directory per closure holding its store paths (hardlinks
 * into the node store, or a read-only bind of each), a Nix database and `nix/var/result`. A view appears complete or not
 * at all (built aside, then renamed).
 */
export interface ViewStore {
  /** The directory that becomes the workload's /nix. */
  nixDir(key: string): string;
  exists(key: string): Promise<boolean>;
  materialize(key: string, contents: ViewContents): Promise<void>;
  remove(key: string): Promise<void>;
  list(): Promise<string[]>;
  /** The roots a complete view was built for (read back from its `nix/var/result`). */
  rootsOf(key: string): Promise<string[]>;
  /** Removes half-built or half-deleted views a crash left behind (never one this process is building). */
  sweepLeftovers(): Promise<SweepResult>;
}
