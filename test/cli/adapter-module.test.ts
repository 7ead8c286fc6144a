import test from 'ava';
import { FIXTURES } from '../helpers/nix.js';
import { nixmount } from '../helpers/serve-process.js';

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
