/** What one check of the kit found: no problems means it passed. */
export interface CheckResult {
  /** The check's name, e.g. "target paths: refusals". */
  readonly name: string;
  /** Readable sentences, each naming the input and what the adapter did instead. */
  readonly problems: readonly string[];
}

/** The kit's failure: every failed check with its problems, one per line. */
export class KitFailure extends Error {
  constructor(
    readonly subject: string,
    readonly failed: readonly CheckResult[],
  ) {
    super(`${subject}:\n${failed.map((check) => `  ✗ ${check.name}\n${check.problems.map((problem) => `      - ${problem}`).join('\n')}`).join('\n')}`);
    this.name = 'KitFailure';
  }
}

export interface KitOptions {
  /**
   * An empty directory the kit works in; for the replay it must be on the Nix store's
   * file system (views are hardlinks into the store). Default: a new one in the
   * system's temporary directory (TMPDIR), removed afterwards.
   */
  readonly dir?: string;
  /** The node id given to the adapter and to serve; default "kit-node". */
  readonly nodeId?: string;
}

export interface ReplayOptions extends KitOptions {
  /** A store path valid in the node's store: the replay publishes its closure. */
  readonly closure: string;
  /** Variables for `nixmount serve` and nix-store (e.g. NIX_CONFIG for an offline node). */
  readonly env?: Readonly<Record<string, string>>;
  /** The nixmount CLI to run (default: the one this kit belongs to). */
  readonly cli?: string;
  /** How long serve may take to answer Probe (default 20 s). */
  readonly readyTimeoutMs?: number;
}

export interface ReplayReport {
  /** Every CSI call the replay made, in order, e.g. "NodePublishVolume /…/mount". */
  readonly calls: readonly string[];
  /** Store paths of the closure found in each published target. */
  readonly publishedPaths: number;
}
