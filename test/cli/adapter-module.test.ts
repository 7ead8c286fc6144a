import test from 'ava';
import { FIXTURES } from '../helpers/nix.js';
import { execa } from 'execa';
import { CLI, nixmount } from '../helpers/serve-process.js';

// Both fail before serve takes the state dir or binds a socket: no root, no Nix.

test('serve --adapter-module refuses a module that does not fit, naming each problem (exit 1)', async (t) => {
  const result = await nixmount(['serve', '--adapter-module', `${FIXTURES}adapters/misfit.mjs`, '--endpoint', 'unix:///nonexistent/csi.sock']);
  t.is(result.exitCode, 1);
  t.true(String(result.stderr).startsWith(`nixmount: the adapter module "${FIXTURES}adapters/misfit.mjs" does not fit nixmount's adapter SDK (docs/adapters.md):\n  - sdkVersion is 2;`), String(result.stderr));
  t.regex(String(result.stderr), /\n {2}- create is missing; it must be a function \(context\) => OrchestratorAdapter\n/);
});

test('serve --adapter-option with a name the adapter does not declare is a usage error (exit 2)', async (t) => {
  const result = await nixmount(['serve', '--orchestrator', 'nomad', '--adapter-option', 'kubelet-dir=/x', '--endpoint', 'unix:///nonexistent/csi.sock']);
  t.is(result.exitCode, 2);
  t.is(String(result.stderr).split('\n')[0], 'nixmount serve: --adapter-option: the nomad adapter has no option "kubelet-dir" (it takes stage-publish-base-dir)');
});

test('a required option of a module loaded with --adapter-module is named with its flag and variable (exit 2)', async (t) => {
  const result = await nixmount(['serve', '--adapter-module', `${FIXTURES}adapters/broken.mjs`, '--endpoint', 'unix:///nonexistent/csi.sock']);
  t.is(result.exitCode, 2);
  t.is(String(result.stderr).split('\n')[0], 'nixmount serve: the broken adapter needs its option base-dir (--adapter-option base-dir=VALUE or NIXMOUNT_ADAPTER_BASE_DIR)');
});

// What scripts/binary/sea-setup.mjs does first in the single binary, before the CLI loads.
const AS_SINGLE_BINARY = ['--import', 'data:text/javascript,globalThis.__nixmountSingleBinary=true'];
const NO_MODULES = 'the single nixmount binary cannot load adapter modules (they import nixmount/sdk, which it does not carry, and it cannot import files); ' +
  'run nixmount from its npm package or its image for --adapter-module (docs/adapters.md)';

test('the single binary refuses --adapter-module (and its variable) at option parsing, saying it cannot load modules (exit 2), and marks it in --help', async (t) => {
  const flag = await execa(process.execPath, [...AS_SINGLE_BINARY, CLI, 'serve', '--adapter-module', `${FIXTURES}adapters/broken.mjs`, '--endpoint', 'unix:///nonexistent/csi.sock'], { reject: false });
  t.is(flag.exitCode, 2);
  t.is(String(flag.stderr).split('\n')[0], `nixmount serve: --adapter-module: ${NO_MODULES}`);
  const variable = await execa(process.execPath, [...AS_SINGLE_BINARY, CLI, 'doctor'], { reject: false, env: { NIXMOUNT_ADAPTER_MODULE: './adapter.js' } });
  t.is(variable.exitCode, 2);
  t.regex(String(variable.stderr).split('\n')[0]!, /^nixmount doctor: .*NIXMOUNT_ADAPTER_MODULE.*: the single nixmount binary cannot load adapter modules/);
  const help = await execa(process.execPath, [...AS_SINGLE_BINARY, CLI, 'serve', '--help']);
  t.regex(String(help.stdout), /--adapter-module MODULE +not in this single binary, which cannot load adapter modules/);
  const npmHelp = await execa(process.execPath, [CLI, 'serve', '--help']);
  t.regex(String(npmHelp.stdout), /--adapter-module MODULE +serve another orchestrator through an adapter module/);
});
