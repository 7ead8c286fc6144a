import type { AdapterModule, AdapterOptionSpec } from '../../sdk/adapter-module.js';
import { UsageError } from '../../settings/option.js';

/** The variable that gives an adapter option: NIXMOUNT_ADAPTER_ and its name in upper case, `-` as `_`. */
export function adapterOptionEnv(name: string): string {
  return `NIXMOUNT_ADAPTER_${name.toUpperCase().replace(/-/g, '_')}`;
}

export interface GivenAdapterOptions {
  /** Every `--adapter-option NAME=VALUE`, in order (a later one wins). */
  pairs: readonly string[];
  /** Values of the built-in adapters' own flags (`--kubelet-dir`), by option name; absent ones undefined. */
  flags?: Readonly<Record<string, string | undefined>>;
  env: NodeJS.ProcessEnv;
}

function describe(spec: AdapterOptionSpec): string {
  return `--adapter-option ${spec.name}=${spec.arg ?? 'VALUE'} or ${adapterOptionEnv(spec.name)}`;
}

/**
 * The values of a module's declared options: its own flag (built-in adapters only), else
 * `--adapter-option NAME=VALUE`, else NIXMOUNT_ADAPTER_<NAME> (an empty one counts as
 * unset), else the default. A pair naming no declared option is a usage error naming it
 * and what the adapter takes, so a typo never silently falls back to a default.
 */
export function adapterOptionValues(module: AdapterModule, given: GivenAdapterOptions): Record<string, string> {
  const pairs = new Map<string, string>();
  for (const pair of given.pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--adapter-option: "${pair}" is not NAME=VALUE`);
    const name = pair.slice(0, at);
    if (!module.options.some((spec) => spec.name === name)) {
      const known = module.options.map((spec) => spec.name);
      throw new UsageError(
        `--adapter-option: the ${module.name} adapter has no option "${name}" (${known.length > 0 ? `it takes ${known.join(', ')}` : 'it takes none'})`,
      );
    }
    pairs.set(name, pair.slice(at + 1));
  }
  const values: Record<string, string> = {};
  for (const spec of module.options) {
    const fromEnv = given.env[adapterOptionEnv(spec.name)];
    const value = given.flags?.[spec.name] ?? pairs.get(spec.name) ?? (fromEnv === '' ? undefined : fromEnv) ?? spec.default;
    if (value !== undefined) values[spec.name] = value;
    else if (spec.required) throw new UsageError(`the ${module.name} adapter needs its option ${spec.name} (${describe(spec)})`);
  }
  return values;
}
