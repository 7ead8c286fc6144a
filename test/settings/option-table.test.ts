import test from 'ava';
import { ADAPTER_OPTIONS } from '../../src/adapters/registry.js';
import { defaultValues } from '../../src/settings/command-line.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { COMMAND_NAMES } from '../../src/settings/option.js';
import { PLUGIN_OPTIONS } from '../../src/settings/plugin-options.js';
import { TOOL_OPTIONS } from '../../src/settings/tool-options.js';

const ALL = [PLUGIN_OPTIONS, TOOL_OPTIONS, ADAPTER_OPTIONS].flatMap((table) => Object.values(table));

test('every command is defined once, and takes no flag (or short flag) twice', (t) => {
  t.deepEqual(COMMANDS.map((command) => command.name), [...COMMAND_NAMES]);
  for (const command of COMMANDS) {
    const flags = command.options.map(([, spec]) => spec.flag);
    t.deepEqual(flags, [...new Set(flags)], command.name);
    const shorts = command.options.flatMap(([, spec]) => (spec.short ? [spec.short] : []));
    t.false(shorts.includes('h'), '-h is --help');
    t.deepEqual(shorts, [...new Set(shorts)], command.name);
  }
});

test('every option has a help text, a section and a command; variables are NIXMOUNT_* (or CSI_ENDPOINT), one per option', (t) => {
  const envs = new Map<string, string>();
  for (const spec of ALL) {
    t.regex(spec.flag, /^[a-z][a-z-]*[a-z]$/);
    t.true(spec.help.length > 0 && spec.section.length > 0 && spec.commands.length > 0, spec.flag);
    if (spec.env === undefined) continue;
    t.regex(spec.env, /^(NIXMOUNT_[A-Z_]+|CSI_ENDPOINT)$/);
    t.not(spec.kind, 'boolean', `--${spec.flag}: a switch has no variable`);
    t.is(envs.get(spec.env) ?? spec.flag, spec.flag, `${spec.env} belongs to one flag`);
    envs.set(spec.env, spec.flag);
  }
  t.true(TOOL_OPTIONS && Object.values(TOOL_OPTIONS).every((spec) => spec.env === undefined), 'the offline tools read no variable');
});

test('every default is a value its own parser accepts', (t) => {
  for (const command of COMMANDS) t.notThrows(() => defaultValues(command.options), command.name);
});
