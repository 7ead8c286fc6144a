/**
 * One command-line option: its flag, the variable that gives its default, the
 * default itself, its help text and the commands that take it. Every option of
 * nixmount is a value of this type in a table (plugin-options.ts, tool-options.ts, and each
 * adapter's own adapter-options.ts); parsing, help and the README check read them.
 */

/** The commands, by the words typed after `nixmount`. */
export const COMMAND_NAMES = ['serve', 'publish', 'unpublish', 'gc', 'doctor', 'k8s manifests', 'nomad volume', 'nomad check'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** The kinds of value an option takes; a flag and its variable go through the same parser. */
export type OptionKind = 'string' | 'list' | 'duration' | 'boolean' | 'enum' | 'count' | 'percent';

export interface OptionSpec<T = unknown, C extends CommandName = CommandName> {
  flag: string;
  kind: OptionKind;
  /** NIXMOUNT_* variable read when the flag is absent (CSI_ENDPOINT is the only CSI_ one, per the CSI spec). */
  env?: string;
  /** Text parsed like the user's when neither flag nor variable is given; a function for computed defaults. */
  default?: string | (() => string);
  /** How help and docs describe a default that is not a fixed text ("the host name", "the node's nix.conf"). */
  defaultHelp?: string;
  help: string;
  /** Placeholder in the help, e.g. DIR, URI. */
  arg?: string;
  commands: readonly C[];
  /** Heading the option is listed under in help (and, for the plugin's options, the README section). */
  section: string;
  short?: string;
  /** May be given more than once; the value is every occurrence in order. */
  repeatable?: boolean;
  /** Absent flag (and variable, and default) is a usage error. */
  required?: boolean;
  /** The allowed words of an enum, or of each entry of a list. */
  choices?: readonly string[];
  /** Other spellings accepted for a choice (e.g. "flakes" for "flake"). */
  aliases?: Readonly<Record<string, string>>;
  /** Turns one text into the value; throws ValueError (without the flag's name, which the caller adds). */
  parse(text: string): T;
  /** The value when nothing is given and there is no default. */
  absent: T;
}

/** A bad command line: exit status 2, with the usage. */
export class UsageError extends Error {}

/** A text that is not a value of an option's kind; the parser names the flag in front of it. */
export class ValueError extends Error {}

export type OptionTable = Readonly<Record<string, OptionSpec<any, any>>>;
type ValueOf<S> = S extends OptionSpec<infer T, any> ? T : never;
type CommandsOf<S> = S extends OptionSpec<any, infer C> ? C : never;

/** The typed values of the options in `T` that command `C` takes. */
export type ValuesFor<T extends OptionTable, C extends CommandName> = {
  -readonly [K in keyof T as C extends CommandsOf<T[K]> ? K : never]: ValueOf<T[K]>;
};
/** The typed values of every option in `T`. */
export type Values<T extends OptionTable> = { -readonly [K in keyof T]: ValueOf<T[K]> };

/** What every option helper takes: the spec's own words, without what the helper decides (kind, parse, absent). */
type Common<C extends CommandName> = Pick<OptionSpec<unknown, C>, 'flag' | 'env' | 'defaultHelp' | 'help' | 'arg' | 'commands' | 'section' | 'short' | 'required'>;
type WithDefault = { default: string | (() => string) };

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "90s", "15m", "2h", "500ms" or plain milliseconds, in milliseconds. */
function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new ValueError(`"${text}" is not a duration (e.g. 30s, 15m, 0)`);
  return Number(match[1]) * (DURATION_UNITS[match[2] ?? 'ms'] ?? 1);
}

/** Space or comma separated; an empty text is an empty list (for caches: "none"). */
function parseList(text: string): string[] {
  return text.split(/[\s,]+/).filter((entry) => entry.length > 0);
}

function choose(choices: readonly string[], aliases: Readonly<Record<string, string>>, word: string): string {
  const chosen = aliases[word] ?? word;
  if (!choices.includes(chosen)) throw new ValueError(`"${word}" is not one of ${choices.join(', ')}`);
  return chosen;
}

export function text<const C extends CommandName>(spec: Common<C> & WithDefault): OptionSpec<string, C>;
export function text<const C extends CommandName>(spec: Common<C> & { required: true }): OptionSpec<string, C>;
export function text<const C extends CommandName>(spec: Common<C>): OptionSpec<string | undefined, C>;
export function text<const C extends CommandName>(spec: Common<C> & Partial<WithDefault>): OptionSpec<string | undefined, C> {
  return { ...spec, kind: 'string', arg: spec.arg ?? 'TEXT', parse: (value) => value, absent: undefined };
}

/** A repeatable text option (`--context k=v --context k2=v2`). */
export function texts<const C extends CommandName>(spec: Common<C>): OptionSpec<string[], C> {
  return { ...spec, kind: 'string', arg: spec.arg ?? 'TEXT', repeatable: true, parse: (value) => [value], absent: [] };
}

export function list<const C extends CommandName>(spec: Common<C> & WithDefault): OptionSpec<string[], C>;
export function list<const C extends CommandName>(spec: Common<C>): OptionSpec<string[] | undefined, C>;
export function list<const C extends CommandName>(spec: Common<C> & Partial<WithDefault>): OptionSpec<string[] | undefined, C> {
  return { ...spec, kind: 'list', arg: spec.arg ?? 'LIST', parse: parseList, absent: undefined };
}

/** A list whose entries are words from `choices` (or their aliases). */
export function choiceList<const W extends string, const C extends CommandName>(
  spec: Common<C> & WithDefault & { choices: readonly W[]; aliases?: Readonly<Record<string, W>> },
): OptionSpec<W[], C> {
  const aliases = spec.aliases ?? {};
  return {
    ...spec,
    kind: 'list',
    arg: spec.arg ?? spec.choices.join(','),
    parse: (value) => parseList(value).map((word) => choose(spec.choices, aliases, word) as W),
    absent: [],
  };
}

/** In milliseconds. */
export function duration<const C extends CommandName>(spec: Common<C> & WithDefault): OptionSpec<number, C> {
  return { ...spec, kind: 'duration', arg: spec.arg ?? 'DURATION', parse: parseDuration, absent: 0 };
}

/** A flag without a value; absent is false. */
export function flag<const C extends CommandName>(spec: Omit<Common<C>, 'env' | 'arg' | 'required'>): OptionSpec<boolean, C> {
  return {
    ...spec,
    kind: 'boolean',
    // Given bare (parseArgs refuses `--flag=value`), with no variable and no default: present is true.
    parse: () => true,
    absent: false,
  };
}

export function oneOf<const W extends string, const C extends CommandName>(spec: Common<C> & WithDefault & { choices: readonly W[] }): OptionSpec<W, C>;
export function oneOf<const W extends string, const C extends CommandName>(spec: Common<C> & { choices: readonly W[] }): OptionSpec<W | undefined, C>;
export function oneOf<const W extends string, const C extends CommandName>(
  spec: Common<C> & Partial<WithDefault> & { choices: readonly W[] },
): OptionSpec<W | undefined, C> {
  return { ...spec, kind: 'enum', arg: spec.arg ?? spec.choices.join('|'), parse: (value) => choose(spec.choices, {}, value) as W, absent: undefined };
}

/** A repeatable enum (`--access-mode A --access-mode B`); the default is a list. */
export function oneOfEach<const W extends string, const C extends CommandName>(
  spec: Common<C> & { choices: readonly W[]; defaultList: readonly W[] },
): OptionSpec<W[], C> {
  const { defaultList, ...rest } = spec;
  return {
    ...rest,
    kind: 'enum',
    arg: spec.arg ?? 'MODE',
    repeatable: true,
    defaultHelp: spec.defaultHelp ?? defaultList.join(', '),
    parse: (value) => [choose(spec.choices, {}, value) as W],
    absent: [...defaultList],
  };
}

/** A positive whole number. */
export function count<const C extends CommandName>(spec: Common<C> & WithDefault): OptionSpec<number, C> {
  return {
    ...spec,
    kind: 'count',
    arg: spec.arg ?? 'N',
    parse: (value) => {
      if (!/^[1-9]\d*$/.test(value)) throw new ValueError(`"${value}" is not a positive number`);
      return Number(value);
    },
    absent: 1,
  };
}

/** A whole percentage, 0 to 100; absent (no default) is undefined. */
export function percent<const C extends CommandName>(spec: Common<C>): OptionSpec<number | undefined, C> {
  return {
    ...spec,
    kind: 'percent',
    arg: spec.arg ?? 'PERCENT',
    parse: (value) => {
      const match = /^(\d{1,3})%?$/.exec(value.trim());
      const number = match ? Number(match[1]) : NaN;
      if (!(number >= 0 && number <= 100)) throw new ValueError(`"${value}" is not a percentage (a whole number from 0 to 100)`);
      return number;
    },
    absent: undefined,
  };
}
