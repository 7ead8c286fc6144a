import type { CommandOption, Positionals } from './command-line.js';
import type { OptionSpec } from './option.js';

const COLUMN = 34;
const WIDTH = 100;

/** Words of `text` in lines that fit between column `indent` and WIDTH. */
function wrap(text: string, indent = COLUMN): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

/** What the help says the default is: the described default, else the default text. */
export function defaultText(spec: OptionSpec): string | undefined {
  if (spec.defaultHelp !== undefined) return spec.defaultHelp;
  if (spec.default === undefined) return undefined;
  return typeof spec.default === 'function' ? spec.default() : spec.default;
}

function optionLine(spec: OptionSpec): string {
  const name = `${spec.short ? `-${spec.short}, ` : ''}--${spec.flag}${spec.kind === 'boolean' ? '' : ` ${spec.arg}`}`;
  const notes = [
    spec.required ? 'required' : undefined,
    spec.env ? `env ${spec.env}` : undefined,
    defaultText(spec) !== undefined ? `default: ${defaultText(spec) || '""'}` : undefined,
  ].filter((note) => note !== undefined);
  const help = wrap(`${spec.help}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`);
  const first = name.length < COLUMN - 2 ? [`  ${name.padEnd(COLUMN - 2)}${help.shift()}`] : [`  ${name}`];
  return [...first, ...help.map((line) => `${' '.repeat(COLUMN)}${line}`)].join('\n');
}

/** The first line of a command's help, also printed under a usage error. */
export function usageLine(name: string, options: readonly CommandOption[], positionals?: Positionals): string {
  return `usage: nixmount ${name}${options.length > 0 ? ' [options]' : ''}${positionals ? ` ${positionals.usage}` : ''}`;
}

/** `nixmount <command> --help`: usage, what it does, then its options by section. */
export function commandHelp(name: string, about: string, options: readonly CommandOption[], positionals?: Positionals): string {
  const lines = [usageLine(name, options, positionals), '', ...wrap(about, 0)];
  const sections = [...new Set(options.map(([, spec]) => spec.section))];
  for (const section of sections) {
    lines.push('', `${section}:`, ...options.filter(([, spec]) => spec.section === section).map(([, spec]) => optionLine(spec)));
  }
  lines.push('', `  ${'-h, --help'.padEnd(COLUMN - 2)}show this help`);
  return lines.join('\n');
}

/** A list of commands and what each does, for `nixmount --help` and `nixmount nomad --help`. */
export function commandList(usage: string, commands: ReadonlyArray<{ name: string; summary: string }>, footer: string[]): string {
  const width = Math.max(...commands.map((command) => command.name.length)) + 3;
  return [`usage: ${usage}`, '', ...commands.map((command) => `  ${command.name.padEnd(width)}${command.summary}`), '', ...footer].join('\n');
}
