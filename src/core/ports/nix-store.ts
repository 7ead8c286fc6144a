export const NixStore = Symbol('NixStore');

/** What evaluating an expression or a flake gave: the derivation and its default output. */
export interface Evaluation {
  /** The output path the source names (a root of the view). */
  output: string;
  /** What to realise to make `output` valid: `<drv>!<output name>`. */
  target: string;
}

/**
 * What the store that answered a closure query knows of registering its paths (their
 * hashes, sizes, references). Opaque to the core: it is handed back, with the paths it
 * was given for, to the same store's writeRegistration, which may then skip asking Nix again.
 */
export interface ClosureRegistration {
  /** How many store paths it describes. */
  readonly size: number;
}

/** A closure as the node store answered it: every path, sorted, and what registering them takes. */
export interface Closure {
  paths: string[];
  /** Absent when the store has nothing to carry (it asks Nix when it registers). */
  registration?: ClosureRegistration;
}

export type ClosureAnswer = { valid: true; closure: Closure } | { valid: false; missing: string[] };

/** Progress reported while realising (parsed from Nix's output). */
export type RealiseEvent =
  | { kind: 'plan'; fetch: number; build: number; downloadMiB?: number }
  | { kind: 'fetching'; path: string; from: string }
  | { kind: 'building'; derivation: string }
  | { kind: 'log'; line: string };

export interface EvaluateOptions {
  /** False: import-from-derivation may substitute but never build during evaluation. */
  mayBuild: boolean;
}

export interface RealiseOptions {
  /** False: substitute only; a path that would need a build fails with PermissionDeniedError. */
  mayBuild: boolean;
  onEvent?: (event: RealiseEvent) => void;
}

/**
 * The node's Nix store. Store paths are logical (`/nix/store/…`); `physicalPath`
 * says where the files of a path really are (different for chroot stores).
 */
export interface NixStore {
  /** The Nix system of this node, e.g. x86_64-linux. */
  system(): Promise<string>;
  /** Where the files of a store path live on this machine. */
  physicalPath(storePath: string): string;
  /**
   * What the node store says of `roots`: their whole closure (the roots and everything
   * they reference, sorted) when every root is valid, else the roots that are missing.
   * One question, so a publish of a valid closure costs one Nix process, not two.
   */
  queryClosure(roots: readonly string[]): Promise<ClosureAnswer>;
  /**
   * Evaluates Nix expression text (a derivation or a function taking {}) with the
   * node's NIX_PATH. Throws InvalidArgumentError quoting Nix's message when it does not evaluate.
   */
  evaluateExpression(text: string, options: EvaluateOptions): Promise<Evaluation>;
  /** Evaluates a flake installable; `refresh` refetches unlocked inputs. */
  evaluateFlake(ref: string, options: EvaluateOptions & { refresh: boolean }): Promise<Evaluation>;
  /**
   * Makes `targets` (store paths or `<drv>!<output>`) valid: substitutes from the
   * caches, builds when allowed. Throws StorePathsUnavailableError (naming the caches'
   * problems), PermissionDeniedError (a build needed but not allowed) or BuildFailedError.
   */
  realise(targets: readonly string[], options: RealiseOptions): Promise<void>;
  /** Copies the closures of `paths` to the binary cache `uri`, signed with the node's signing key when it has one. */
  push(uri: string, paths: readonly string[]): Promise<void>;
  /**
   * Write a Nix database registering exactly `closure.paths` (with their hashes and references) under
   * `rootDir`/nix/var/nix/db, and beside it `rootDir`/nix/var/nixmount/closure.json (each
   * path's hashes, size, references, deriver, signatures and where it came from) and
   * sbom.cdx.json, the same as a CycloneDX SBOM whose top-level component depends on
   * `roots` (docs/sources.md). With the registration its queryClosure answered (the usual
   * case) this costs one Nix process.
   */
  writeRegistration(closure: Closure, rootDir: string, roots: readonly string[]): Promise<void>;
  /**
   * Keep `roots` (and so their closures) alive in the node store on behalf of `holder`,
   * replacing what `holder` held before — against a garbage collection already under way
   * too. A root a collection deleted before this call is not brought back: ask
   * `missingPaths` after it.
   */
  addGcRoots(holder: string, roots: readonly string[]): Promise<void>;
  /** Which of `paths` the node store does not hold (deleted, or never there). */
  missingPaths(paths: readonly string[]): Promise<string[]>;
  /** Drop every GC root `holder` holds; the plugin's root directory goes with its last root. */
  removeGcRoots(holder: string): Promise<void>;
  /** Every holder that has GC roots in this plugin's root directory (reconciled with the views at start); an empty directory is removed. */
  gcRootHolders(): Promise<string[]>;
  /** Cheap health check used by Probe: throws when Nix or the store is unusable. */
  check(): Promise<void>;
}

export const StoreGarbage = Symbol('StoreGarbage');

/** The filesystem holding the store, as statfs sees it (bytes). */
export interface StoreSpace {
  totalBytes: number;
  /** What an unprivileged writer may still use (statfs f_bavail), as kubelet counts it. */
  availableBytes: number;
}

export interface CollectOptions {
  /** Nix stops once it has freed at least this much (`--max-freed`). */
  maxFreedBytes: number;
  /** The GC is killed after this long and the call throws a CommandFailedError with `timedOut`. */
  timeoutMs: number;
}

export interface CollectResult {
  /** What Nix reports it freed (files whose last link went). */
  bytesFreed: number;
  pathsDeleted: number;
}

/**
 * Space in the node store and Nix's garbage collector. The collector deletes only
 * paths no GC root keeps alive; the views' roots (see NixStore.addGcRoots) are GC roots.
 */
export interface StoreGarbage {
  space(): Promise<StoreSpace>;
  collect(options: CollectOptions): Promise<CollectResult>;
}
