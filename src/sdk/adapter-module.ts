import type { OrchestratorAdapter } from './adapter-types.js';
import type { OrchestratorReplay } from './replay.js';

/**
 * The SDK's major version. A module states the one it was written against; nixmount
 * loads only modules of its own major (docs/adapters.md, "Stability").
 */
export const SDK_VERSION = 1;

/**
 * One option an adapter takes beyond what every adapter gets. `nixmount serve` reads it
 * from `--adapter-option NAME=VALUE`, else from the variable NIXMOUNT_ADAPTER_<NAME>
 * (upper case, `-` as `_`), else from `default`. Values are text: the adapter parses
 * them in `create` and throws a plain Error naming the option when one is wrong.
 */
export interface AdapterOptionSpec {
  /** Lower-case words joined by `-` (`kubelet-dir`); `module` is taken (NIXMOUNT_ADAPTER_MODULE). */
  readonly name: string;
  /** One line for `--help` and the docs. */
  readonly help: string;
  /** Used when neither the flag nor the variable is given. */
  readonly default?: string;
  /** Placeholder in help, e.g. DIR (default: VALUE). */
  readonly arg?: string;
  /** Absent flag, variable and default is a usage error naming the option. */
  readonly required?: boolean;
  /**
   * This option names the directory the orchestrator's target paths lie in, which must
   * be on a shared mount so the plugin's mounts reach the orchestrator (kubelet's root
   * dir, Nomad's stage_publish_base_dir, Swarm's propagated mount). `nixmount doctor`
   * checks its propagation. At most one option of a module says so.
   */
  readonly propagated?: boolean;
}

/** What nixmount gives `create`. */
export interface AdapterContext {
  /** This node's id (`--node-id`), as the orchestrator knows the node. */
  readonly nodeId: string;
  /**
   * Directories no target or staging path may be, be inside or hide: nixmount's state
   * dir, /nix and the store's physical root. Check them with `ProtectedDirs`.
   */
  readonly protectedDirs: readonly string[];
  /** Every declared option's value (declared names only; absent optional ones are missing). */
  readonly options: Readonly<Record<string, string>>;
}

/**
 * What an adapter module exports (as `default` or as `adapter`): how nixmount finds,
 * configures and builds an adapter, and how the test kit replays its orchestrator.
 */
export interface AdapterModule {
  /** SDK_VERSION of the SDK the module was written against. */
  readonly sdkVersion: number;
  /** The orchestrator's name, lower-case words joined by `-`; logs and `--orchestrator` use it. */
  readonly name: string;
  /** One line saying which orchestrator this is, for help and logs. */
  readonly summary: string;
  readonly options: readonly AdapterOptionSpec[];
  /** Builds the adapter; throws an Error naming the option when the options are wrong. */
  create(context: AdapterContext): OrchestratorAdapter;
  /** How the orchestrator drives a node plugin: what the test kit's end-to-end replay sends. */
  readonly replay?: OrchestratorReplay;
}

/** Identity, for the types: `export default defineAdapter({ … })` gets its members checked where they are written. */
export function defineAdapter<M extends AdapterModule>(module: M): M {
  return module;
}
