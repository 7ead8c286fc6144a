import type { OrchestratorAdapter } from '../core/orchestrator-adapter.js';
import type { AdapterModule } from '../sdk/adapter-module.js';
import { text, type OptionSpec } from '../settings/option.js';
import { kubernetesModule } from './kubernetes/adapter-module.js';
import { localModule } from './local/adapter-module.js';
import { adapterOptionValues, type GivenAdapterOptions } from './module/adapter-option-values.js';
import { checkAdapter } from './module/check-adapter-module.js';
import { loadAdapterModule } from './module/load-adapter-module.js';
import { CheckedAdapter } from './module/checked-adapter.js';
import { nomadModule } from './nomad/adapter-module.js';

/** What the composition gives every adapter, whichever orchestrator it serves. */
export interface AdapterOptions {
  nodeId: string;
  /**
   * Directories no target or staging path may be, be inside or hide: the state dir (as
   * given; adapters add its realpath), /nix and the store's physical `<root>/nix`
   * (defaultProtectedDirs). Empty only in tests that build an adapter alone.
   */
  protectedDirs?: readonly string[];
}

/**
 * The orchestrators nixmount ships, as adapter modules like any other: another
 * orchestrator is a module of its own loaded with `serve --adapter-module`, not an entry here.
 */
export const BUILTIN_ADAPTERS = { local: localModule, kubernetes: kubernetesModule, nomad: nomadModule } as const;

export type AdapterName = keyof typeof BUILTIN_ADAPTERS;
export const ADAPTER_NAMES = Object.keys(BUILTIN_ADAPTERS) as AdapterName[];

/** The key of a built-in adapter option's own flag in `serve`'s values. */
function flagKey(module: AdapterModule, name: string): string {
  return `adapter.${module.name}.${name}`;
}

/**
 * The built-in adapters' options as flags of their own (`--kubelet-dir`), listed in
 * `serve --help` under the adapter's name. Derived from the modules' declarations; every
 * one is also `--adapter-option NAME=VALUE` and NIXMOUNT_ADAPTER_<NAME>. No default here:
 * an absent flag leaves the option to those and to the module's default.
 */
export const ADAPTER_OPTIONS: Readonly<Record<string, OptionSpec<string | undefined, 'serve' | 'doctor'>>> = Object.fromEntries(
  Object.values(BUILTIN_ADAPTERS).flatMap((module: AdapterModule) =>
    module.options.map((spec) => [
      flagKey(module, spec.name),
      text({ flag: spec.name, arg: spec.arg ?? 'VALUE', help: spec.help, commands: ['serve', 'doctor'], section: module.name, ...(spec.default !== undefined ? { defaultHelp: spec.default } : {}) }),
    ]),
  ),
);

/** The built-in adapter flags given on `serve`'s (or `doctor`'s) command line, by option name, for `module`. */
function builtinFlagValues(module: AdapterModule, values: Readonly<Record<string, unknown>>): Record<string, string | undefined> {
  return Object.fromEntries(module.options.map((spec) => [spec.name, values[flagKey(module, spec.name)] as string | undefined]));
}

/** What `serve` and `doctor` are told about the adapter: --orchestrator or --adapter-module, and the adapter's options. */
export interface AdapterChoice {
  orchestrator: AdapterName;
  adapterModule?: string;
  adapterOption: readonly string[];
}

/**
 * The adapter module a command's values choose — loaded from --adapter-module, else the
 * built-in --orchestrator — and its options as given: the built-in adapter's own flags
 * (carried in the same values), --adapter-option pairs, and NIXMOUNT_ADAPTER_<NAME>.
 */
export async function chosenAdapter(values: AdapterChoice, env: NodeJS.ProcessEnv = process.env): Promise<{ module: AdapterModule; given: GivenAdapterOptions }> {
  const module: AdapterModule = values.adapterModule ? await loadAdapterModule(values.adapterModule) : BUILTIN_ADAPTERS[values.orchestrator];
  return { module, given: { pairs: values.adapterOption, flags: builtinFlagValues(module, values as unknown as Record<string, unknown>), env } };
}

/**
 * Builds the adapter of `module` with its options (from `given`, or only the defaults) and
 * checks it against the SDK; every adapter is served through CheckedAdapter.
 */
export function createAdapterFrom(module: AdapterModule, options: AdapterOptions, given: GivenAdapterOptions = { pairs: [], env: {} }): OrchestratorAdapter {
  const where = `the ${module.name} adapter`;
  const adapter = module.create({ nodeId: options.nodeId, protectedDirs: options.protectedDirs ?? [], options: adapterOptionValues(module, given) });
  return new CheckedAdapter(checkAdapter(adapter, module, where));
}
