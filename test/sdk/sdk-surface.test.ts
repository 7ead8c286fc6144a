import test from 'ava';
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

// The SDK's runtime surface is a promise (semver): adding to it is a minor release,
// removing or changing a name a major one. This list changes only with docs/adapters.md's.
const RUNTIME_EXPORTS = [
  'FailedPreconditionError', 'InvalidArgumentError', 'NAME_MAX_BYTES', 'NixmountError', 'NotFoundError', 'PATH_MAX_BYTES',
  'PathThroughSymlinkError', 'PermissionDeniedError', 'ProtectedDirs', 'SDK_VERSION', 'USER_KEYS', 'UnavailableError', 'assertContextBounds',
  'assertNoSymlinkBelow', 'canonicalPath', 'defineAdapter', 'isAtOrBelow', 'isBelow', 'isNixmountError', 'isSystemKey',
  'parseUserContext', 'parseUserKeys', 'quote', 'realpathOfExisting', 'splitContext',
];

// A variable specifier: the compiler must not look for the declarations before the build wrote them.
const SDK = 'nixmount/sdk';

test('nixmount/sdk resolves through the package exports and exports exactly the documented names', async (t) => {
  const sdk = (await import(SDK)) as Record<string, unknown>;
  t.deepEqual(Object.keys(sdk).sort(), [...RUNTIME_EXPORTS].sort());
  t.is(sdk.SDK_VERSION, 1);
});

test('the build ships declaration files for the SDK and what its types name', async (t) => {
  for (const file of ['src/sdk/index.d.ts', 'src/sdk/adapter-module.d.ts', 'src/sdk/replay.d.ts', 'src/core/orchestrator-adapter.d.ts', 'src/core/errors.d.ts']) {
    await t.notThrowsAsync(access(fileURLToPath(new URL(`../../${file}`, import.meta.url))), file);
  }
});

test('errors thrown through the SDK are the ones nixmount maps to gRPC codes', async (t) => {
  const sdk = (await import(SDK)) as typeof import('../../src/sdk/index.js');
  const error = t.throws(() => sdk.canonicalPath('relative/path', 'target_path'));
  t.true(sdk.isNixmountError(error));
  t.is((error as InstanceType<typeof sdk.NixmountError>).kind, 'InvalidArgument');
  t.is(error?.message, 'target_path: "relative/path" must be an absolute path');
  t.deepEqual(sdk.splitContext({ paths: '/nix/store/x', 'swarm/node': 'a' }, (key) => key.startsWith('swarm/')), {
    user: { paths: '/nix/store/x' },
    orchestrator: { 'swarm/node': 'a' },
  });
});
