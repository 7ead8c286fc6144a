import { parseArgs } from 'node:util';
import { UsageError, ValueError, type CommandName, type OptionSpec, type OptionTable } from './option.js';

/** One option of a command: its key in the typed values, and its spec. */
export type CommandOption = readonly [key: string, spec: OptionSpec];

/** The options in `tables` that `command` takes, in table order. */
export function optionsOf(command: CommandName, ...tables: OptionTable[]): CommandOption[] {
  return tables.flatMap((table) => Object.entries(table).filter(([, spec]) => spec.commands.includes(command)));
}

export interface Positionals {
  /** How the usage line shows them, e.g. `JOB.nomad.hcl [VOLUME.hcl…]`. */
  usage: string;
  min: number;
}

type Given = string | boolean | Array<string | boolean> | undefined;

function parseValue(spec: OptionSpec, text: string, label: string): unknown {
  try {
    return spec.parse(text);
  } catch (error) {
    if (error instanceof ValueError) throw new UsageError(`${label}: ${error.message}`);
    throw error;
  }
}

/**
 * One option's value: the flag, else its variable, else its default. An empty
 * variable counts as unset, except for lists, where it means "none".
 */
function resolve(spec: OptionSpec, given: Given, env: NodeJS.ProcessEnv): unknown {
  const flag = `--${spec.flag}`;
  if (given !== undefined) {
    if (typeof given === 'boolean') return given;
    if (Array.isArray(given)) return given.flatMap((text) => parseValue(spec, String(text), flag) as unknown[]);
    return parseValue(spec, given, flag);
  }
  const fromEnv = spec.env === undefined ? undefined : env[spec.env];
  if (fromEnv !== undefined && (fromEnv !== '' || spec.kind === 'list')) return parseValue(spec, fromEnv, `${flag} (from ${spec.env})`);
  if (spec.default !== undefined) return parseValue(spec, typeof spec.default === 'function' ? spec.default() : spec.default, `${flag} (default)`);
  if (spec.required) throw new UsageError(`${flag} is required`);
  return Array.isArray(spec.absent) ? [...(spec.absent as unknown[])] : spec.absent;
}

/** node:util's messages, said the way nixmount's other usage errors are. */
function usageMessage(error: Error & { code?: string }): string {
  const message = error.message;
  const option = /Option '([^']*?)(?: <value>)?'/.exec(message)?.[1];
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option "${/Unknown option '([^']+)'/.exec(message)?.[1] ?? message}"`;
  if (error.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument "${/argument '([^']*)'/.exec(message)?.[1] ?? message}"`;
  if (option && /does not take an argument/.test(message)) return `${option} takes no value`;
  if (option && /ambiguous/.test(message)) return `${option} needs a value (write ${option}=VALUE for one starting with "-")`;
  if (option && /missing/.test(message)) return `${option} needs a value`;
  return message.split('. ')[0] ?? message;
}

/** The typed values of `options` from `argv` and the environment; throws UsageError for a bad command line. */
export function parseCommandLine(
  options: readonly CommandOption[],
  argv: string[],
  env: NodeJS.ProcessEnv,
  positionals?: Positionals,
): { values: Record<string, unknown>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(
        options.map(([, spec]) => [
          spec.flag,
          { type: spec.kind === 'boolean' ? ('boolean' as const) : ('string' as const), multiple: spec.repeatable ?? false, ...(spec.short ? { short: spec.short } : {}) },
        ]),
      ),
      allowPositionals: positionals !== undefined,
      strict: true,
    });
  } catch (error) {
    if (error instanceof Error && String((error as { code?: string }).code).startsWith('ERR_PARSE_ARGS')) throw new UsageError(usageMessage(error));
    throw error;
  }
  if (positionals && parsed.positionals.length < positionals.min) throw new UsageError(`needs ${positionals.usage}`);
  const flags = parsed.values as Record<string, Given>;
  const values = Object.fromEntries(options.map(([key, spec]) => [key, resolve(spec, flags[spec.flag], env)]));
  return { values, positionals: parsed.positionals };
}

/** The values of `options` when nothing is given, the environment included: their defaults (required ones left out). */
export function defaultValues(options: readonly CommandOption[]): Record<string, unknown> {
  return Object.fromEntries(options.filter(([, spec]) => !spec.required).map(([key, spec]) => [key, resolve(spec, undefined, {})]));
}
