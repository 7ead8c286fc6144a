// The command line of `nixmount`: which command the words name, its --help, its run.
import { parseCommandLine } from '../settings/command-line.js';
import { COMMAND_GROUPS, COMMANDS, RAW_COMMANDS, type CommandSpec, type RawCommandSpec } from './commands.js';
import { commandHelp, commandList, usageLine } from '../settings/help.js';
import { UsageError } from '../settings/option.js';
import { packageVersion } from '../settings/version.js';

/** Exit statuses: the command did what was asked; it failed; the command line was wrong. */
const OK = 0;
const FAILED = 1;
const USAGE = 2;

const HELP_WORDS = new Set(['--help', '-h', 'help']);

function topHelp(): string {
  const single = COMMANDS.filter((command) => !command.name.includes(' '));
  return commandList('nixmount <command> [options]', [...single, ...RAW_COMMANDS, ...COMMAND_GROUPS], [
    'Run `nixmount <command> --help` for a command\'s options, `nixmount --version` for the version.',
  ]);
}

function groupHelp(group: string): string {
  const commands = COMMANDS.filter((command) => command.name.startsWith(`${group} `));
  return commandList(`nixmount ${group} <command> [options]`, commands.map((command) => ({ ...command, name: command.name.slice(group.length + 1) })), [
    `Run \`nixmount ${group} <command> --help\` for a command's options.`,
  ]);
}

class UnknownCommand extends UsageError {
  constructor(words: string, readonly help: string) {
    super(`unknown command "${words}"`);
  }
}

/** A usage error of one command: printed with the command's usage line. */
class CommandUsageError extends UsageError {
  readonly usage: string;

  constructor(readonly command: CommandSpec, message: string) {
    super(message);
    this.usage = usageLine(command.name, command.options, command.positionals);
  }
}

/** The command the words name and the arguments after it, or the help they ask for. */
function resolveCommand(argv: string[]): { command: CommandSpec; rest: string[] } | { raw: RawCommandSpec; rest: string[] } | { help: string } {
  const [first, second] = argv;
  if (first === undefined || HELP_WORDS.has(first)) return { help: topHelp() };
  const raw = RAW_COMMANDS.find((candidate) => candidate.name === first);
  if (raw) return { raw, rest: argv.slice(1) };
  const group = COMMAND_GROUPS.find((candidate) => candidate.name === first);
  const words = group ? 2 : 1;
  const name = argv.slice(0, words).join(' ');
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command) return { command, rest: argv.slice(words) };
  if (group && (second === undefined || HELP_WORDS.has(second))) return { help: groupHelp(first) };
  throw new UnknownCommand(name, group ? groupHelp(first) : topHelp());
}

/**
 * Runs one `nixmount` command line and answers its exit status; a usage error or a
 * failed command is thrown for {@link reportFailure}. The process entry (src/cli.ts)
 * and the tests of what the CLI prints share it, so those tests need no process.
 */
export async function runCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V') {
    console.log(`nixmount ${packageVersion()}`);
    return OK;
  }
  const resolved = resolveCommand(argv);
  if ('help' in resolved) {
    console.log(resolved.help);
    return OK;
  }
  if ('raw' in resolved) {
    const next = await (await resolved.raw.load())(resolved.rest);
    return Array.isArray(next) ? runCommandLine(next, env) : (next ?? OK);
  }
  const { command, rest } = resolved;
  const optionsEnd = rest.indexOf('--');
  if ((optionsEnd < 0 ? rest : rest.slice(0, optionsEnd)).some((arg) => arg === '--help' || arg === '-h')) {
    console.log(commandHelp(command.name, command.about, command.options, command.positionals));
    return OK;
  }
  try {
    const { values, positionals } = parseCommandLine(command.options, rest, env, command.positionals);
    const handler = await command.load();
    return (await handler(values as never, positionals)) ?? OK;
  } catch (error) {
    if (error instanceof UsageError) throw new CommandUsageError(command, error.message);
    throw error;
  }
}

/** Prints what went wrong as the CLI shows it, and answers the exit status for it. */
export function reportFailure(error: unknown): number {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof CommandUsageError) {
    console.error(`nixmount ${error.command.name}: ${message}\n${error.usage}\nRun \`nixmount ${error.command.name} --help\` for its options.`);
  } else {
    console.error(`nixmount: ${message}`);
  }
  if (error instanceof UnknownCommand) console.error(`\n${error.help}`);
  return error instanceof UsageError ? USAGE : FAILED;
}
