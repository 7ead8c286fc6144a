import test from 'ava';
import { COMMAND_GROUPS, COMMANDS, RAW_COMMANDS } from '../../src/cli/commands.js';
import { packageVersion } from '../../src/settings/version.js';
import { nixmountInProcess } from '../helpers/cli-in-process.js';
import { nixmount } from '../helpers/serve-process.js';

// Exit statuses: 0 the command did what was asked, 1 it failed, 2 the command line was wrong.
// The cases run the CLI's entry in this process; the first test checks that the real
// process prints the same and exits with the same statuses.

test('the real `nixmount` process prints what the command line does in process and exits 0, 1 or 2', async (t) => {
  for (const args of [['--help'], ['nomad', 'run'], ['gc', 'now'], ['nomad', 'check', '/no/such/job.nomad.hcl']]) {
    const [real, inProcess] = [await nixmount(args), await nixmountInProcess(args)];
    t.deepEqual({ exitCode: real.exitCode, stdout: real.stdout, stderr: real.stderr }, inProcess, args.join(' '));
  }
});

for (const args of [[], ['--help'], ['-h'], ['help']]) {
  test(`\`nixmount ${args.join(' ')}\` lists every command and exits 0`, async (t) => {
    const result = await nixmountInProcess(args);
    t.is(result.exitCode, 0, result.stderr);
    t.regex(result.stdout, /^usage: nixmount <command> \[options\]/);
    for (const name of ['serve', 'publish', 'unpublish', 'gc', 'k8s', 'nomad']) t.regex(result.stdout, new RegExp(`^  ${name} +\\S`, 'm'));
  });
}

test('--version prints the package version and exits 0', async (t) => {
  const result = await nixmountInProcess(['--version']);
  t.is(result.exitCode, 0);
  t.is(result.stdout, `nixmount ${packageVersion()}`);
});

for (const command of COMMANDS) {
  test(`\`nixmount ${command.name} --help\` shows every option of the table and exits 0`, async (t) => {
    const result = await nixmountInProcess([...command.name.split(' '), '--help']);
    t.is(result.exitCode, 0, result.stderr);
    t.true(result.stdout.startsWith(`usage: nixmount ${command.name} `), result.stdout);
    t.true(command.options.length > 0);
    for (const [, spec] of command.options) {
      t.regex(result.stdout, new RegExp(`^  (-${spec.short}, )?--${spec.flag}\\b`, 'm'), spec.flag);
      if (spec.env) t.true(result.stdout.includes(spec.env), spec.env);
    }
    t.regex(result.stdout, /^ {2}-h, --help +show this help$/m);
  });

  test(`\`nixmount ${command.name}\` with an unknown flag prints its usage and exits 2`, async (t) => {
    const result = await nixmountInProcess([...command.name.split(' '), '--no-such-flag', 'x']);
    t.is(result.exitCode, 2);
    t.is(result.stdout, '');
    const usage = `usage: nixmount ${command.name} [options]${command.positionals ? ` ${command.positionals.usage}` : ''}`;
    t.is(result.stderr, `nixmount ${command.name}: unknown option "--no-such-flag"\n${usage}\nRun \`nixmount ${command.name} --help\` for its options.`);
  });
}

for (const group of COMMAND_GROUPS) {
  const subcommands = COMMANDS.filter((command) => command.name.startsWith(`${group.name} `));
  for (const args of [[group.name], [group.name, '--help']]) {
    test(`\`nixmount ${args.join(' ')}\` lists its subcommands and exits 0`, async (t) => {
      const result = await nixmountInProcess(args);
      t.is(result.exitCode, 0, result.stderr);
      t.true(result.stdout.startsWith(`usage: nixmount ${group.name} <command>`));
      for (const command of subcommands) t.regex(result.stdout, new RegExp(`^  ${command.name.split(' ')[1]} +${command.summary.replace(/[`()]/g, '.')}$`, 'm'));
    });
  }
}

test('an unknown command or subcommand is a usage error: exit 2 with the list of commands', async (t) => {
  const top = await nixmountInProcess(['mount']);
  t.is(top.exitCode, 2);
  t.true(top.stderr.startsWith('nixmount: unknown command "mount"\n\nusage: nixmount <command> [options]'), top.stderr);
  const sub = await nixmountInProcess(['nomad', 'run']);
  t.is(sub.exitCode, 2);
  t.true(sub.stderr.startsWith('nixmount: unknown command "nomad run"\n\nusage: nixmount nomad <command> [options]'), sub.stderr);
});

const usageErrors: Array<[string[], Record<string, string>, string]> = [
  [['serve', '--view-idle', 'soon'], {}, 'nixmount serve: --view-idle: "soon" is not a duration (e.g. 30s, 15m, 0)'],
  [['serve', '--orchestrator', 'docker'], {}, 'nixmount serve: --orchestrator: "docker" is not one of local, kubernetes, nomad'],
  [['serve', '--log-level', 'loud'], {}, 'nixmount serve: --log-level: "loud" is not one of fatal, error, warn, info, debug, trace, silent'],
  [['serve'], { NIXMOUNT_BUILDS: 'sometimes' }, 'nixmount serve: --builds (from NIXMOUNT_BUILDS): "sometimes" is not one of never, allowed'],
  [['serve', '--endpoint'], {}, 'nixmount serve: --endpoint needs a value'],
  [['publish', '--target', '/tmp/x', '--download-attempts', '0'], {}, 'nixmount publish: --download-attempts: "0" is not a positive number'],
  [['publish', '--target', '/tmp/x', '--allow-sources', 'paths,scripts'], {}, 'nixmount publish: --allow-sources: "scripts" is not one of paths, expression, flake'],
  [['publish', '--paths', '/nix/store/x'], {}, 'nixmount publish: --target is required'],
  [['publish', '--target', '/tmp/x', '--context', 'paths'], {}, 'nixmount publish: --context: "paths" must be key=value'],
  [['unpublish', '--target', '/tmp/x', '--read-write'], {}, 'nixmount unpublish: unknown option "--read-write"'],
  [['gc', 'now'], {}, 'nixmount gc: unexpected argument "now"'],
  [['k8s', 'manifests', '--controller=yes'], {}, 'nixmount k8s manifests: --controller takes no value'],
  [['nomad', 'volume', '--paths', '/nix/store/x'], {}, 'nixmount nomad volume: --id is required'],
  [['nomad', 'volume', '--id', 'v'], {}, 'nixmount nomad volume: give exactly one of --paths, --expression, --flake'],
  [['nomad', 'volume', '--id', 'v', '--flake', 'github:a/b', '--access-mode', 'rw'], {},
    'nixmount nomad volume: --access-mode: "rw" is not one of single-node-reader-only, single-node-writer, multi-node-reader-only, multi-node-single-writer, multi-node-multi-writer'],
  [['nomad', 'check'], {}, 'nixmount nomad check: needs JOB.nomad.hcl [VOLUME.hcl…]'],
];

for (const [args, env, message] of usageErrors) {
  test(`usage error, exit 2: ${Object.entries(env).map(([key, value]) => `${key}=${value} `).join('')}nixmount ${args.join(' ')}`, async (t) => {
    const result = await nixmountInProcess(args, { env });
    t.is(result.exitCode, 2);
    const command = args[0] === 'k8s' || args[0] === 'nomad' ? args.slice(0, 2).join(' ') : args[0];
    const [first, usage, hint] = result.stderr.split('\n');
    t.is(first, message);
    t.true(usage!.startsWith(`usage: nixmount ${command} [options]`), usage);
    t.is(hint, `Run \`nixmount ${command} --help\` for its options.`);
  });
}

test('a command that fails exits 1 with the reason; one that succeeds exits 0', async (t) => {
  const failed = await nixmountInProcess(['k8s', 'manifests', '--out', '/dev/null/manifests']);
  t.is(failed.exitCode, 1);
  t.regex(failed.stderr, /^nixmount: ENOTDIR: not a directory, mkdir '\/dev\/null\/manifests'/);
  const ok = await nixmountInProcess(['k8s', 'manifests', '--namespace', 'nix']);
  t.is(ok.exitCode, 0, ok.stderr);
  t.regex(ok.stdout, /namespace: nix\n/);
});

test('--help wins over a bad command line, and `--` ends the options', async (t) => {
  const help = await nixmountInProcess(['serve', '--mode', 'both', '--help']);
  t.is(help.exitCode, 0);
  t.true(help.stdout.startsWith('usage: nixmount serve [options]'));
  const after = await nixmountInProcess(['nomad', 'check', '--', '--help']);
  t.is(after.exitCode, 1, 'a file named --help, which does not exist');
  t.regex(after.stderr, /^nixmount: ENOENT: no such file or directory, open '--help'/);
});

// A real process each: these commands end their process themselves (host-volume
// must, for Nomad, whatever a Nix child still does).
test('the commands that read their own command line answer --help too, and the top help lists them', async (t) => {
  const top = await nixmountInProcess(['--help']);
  for (const raw of RAW_COMMANDS) {
    t.regex(top.stdout, new RegExp(`\\b${raw.name}\\b`), raw.name);
    const help = await nixmount([raw.name, '--help']);
    t.is(help.exitCode, 0, raw.name);
    t.regex(help.stdout, new RegExp(`usage: nixmount ${raw.name}`), raw.name);
  }
});
