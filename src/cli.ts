#!/usr/bin/env node
import { parseCommandLine } from './settings/command-line.js';
import { COMMAND_GROUPS, COMMANDS, type CommandSpec } from './settings/commands.js';
import { commandHelp, commandList } from './settings/help.js';
import { UsageError } from './settings/option.js';
import { packageVersion } from './settings/version.js';

/** Exit statuses: the command did what was asked; it failed; the command line was wrong. */
const OK = 0;
const FAILED = 1;
const USAGE = 2;

const HELP_WORDS = new Set(['--help', '-h', 'help']);

function topHelp(): string {
  const single = COMMANDS.filter((command) => !command.name.includes(' '));
  return commandList('nixmount <command> [options]', [...single, ...COMMAND_GROUPS], [
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

/** The command the words name and the arguments after them; undefined when the words ask for help. */
function findCommand(argv: string[]): { command: CommandSpec; rest: string[] } | undefined {
  const [first, second] = argv;
  if (first === undefined || HELP_WORDS.has(first)) return undefined;
  if (COMMAND_GROUPS.some((group) => group.name === first)) {
    const command = COMMANDS.find((candidate) => candidate.name === `${first} ${second}`);
    if (command) return { command, rest: argv.slice(2) };
    if (second === undefined || HELP_WORDS.has(second)) {
      console.log(groupHelp(first));
      return undefined;
    }
    throw new UnknownCommand(`${first} ${second}`, groupHelp(first));
  }
  const command = COMMANDS.find((candidate) => candidate.name === first);
  if (!command) throw new UnknownCommand(first, topHelp());
  return { command, rest: argv.slice(1) };
}

async function run(argv: string[]): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V') {
    console.log(`nixmount ${packageVersion()}`);
    return OK;
  }
  if (argv.length === 0 || HELP_WORDS.has(argv[0]!)) {
    console.log(topHelp());
    return OK;
  }
  const found = findCommand(argv);
  if (!found) return OK;
  const { command, rest } = found;
  const optionsEnd = rest.indexOf('--');
  if ((optionsEnd < 0 ? rest : rest.slice(0, optionsEnd)).some((arg) => arg === '--help' || arg === '-h')) {
    console.log(commandHelp(command.name, command.about, command.options, command.positionals));
    return OK;
  }
  try {
    const { values, positionals } = parseCommandLine(command.options, rest, process.env, command.positionals);
    const handler = await command.load();
    return (await handler(values as never, positionals)) ?? OK;
  } catch (error) {
    if (error instanceof UsageError) throw new CommandUsageError(command.name, error.message);
    throw error;
  }
}

class CommandUsageError extends UsageError {
  constructor(readonly command: string, message: string) {
    super(message);
  }
}

run(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof CommandUsageError) {
      console.error(`nixmount ${error.command}: ${message}\nRun \`nixmount ${error.command} --help\` for its options.`);
    } else {
      console.error(`nixmount: ${message}`);
    }
    if (error instanceof UnknownCommand) console.error(`\n${error.help}`);
    process.exit(error instanceof UsageError ? USAGE : FAILED);
  },
);
