import test from 'ava';
import { fileURLToPath } from 'node:url';
import { CONTRACT_CHECKS, KitFailure, checkContract, contractChecks } from '../../src/sdk/testkit/index.js';
import { registerAdapterKit } from '../../src/sdk/testkit/ava.js';
import { localModule } from '../../src/adapters/local/adapter-module.js';
import { FIXTURES } from '../helpers/nix.js';
import { parseUserKeys } from '../../src/sdk/context.js';

// The shipped adapters pass the kit exactly as a third party's would: loaded by path, as
// `serve --adapter-module` loads them (no root, no Nix: the contract checks only).
const BUILT_IN = ['kubernetes', 'nomad', 'local'].map((name) => fileURLToPath(new URL(`../../src/adapters/${name}/adapter-module.js`, import.meta.url)));

for (const module of BUILT_IN) registerAdapterKit(test, module, { title: module.split('/').slice(-2, -1)[0] });

test('a deliberately broken adapter fails the contract, each check saying what the adapter did', async (t) => {
  const results = await contractChecks(`${FIXTURES}adapters/broken.mjs`);
  t.deepEqual(results.map((result) => result.name), [...CONTRACT_CHECKS]);
  const problems = Object.fromEntries(results.map((result) => [result.name, result.problems]));
  t.deepEqual(problems['module fits the SDK'], []);
  t.deepEqual(problems['user keys'], [
    '{"x86_64-linux":"/nix/store/0000000000000000000000000000000a-nixmount-kit-sample","aarch64-linux":"/nix/store/0000000000000000000000000000000b-nixmount-kit-other"}: threw an error without a kind (not one of the SDK\'s errors): no paths',
    '{"expression":"import ./closure.nix {}"}: threw an error without a kind (not one of the SDK\'s errors): no paths',
    '{"flakeRef":"github:example/flake#package"}: threw an error without a kind (not one of the SDK\'s errors): no paths',
  ]);
  t.deepEqual(problems['unknown keys refused by name']!.slice(0, 1), [
    '"nixmount-kit-unknown-key" beside {"paths":"/nix/store/0000000000000000000000000000000a-nixmount-kit-sample"}: expected a refusal (InvalidArgument), but it returned {"spec":{"storePaths":["/nix/store/0000000000000000000000000000000a-nixmount-kit-sample"],"systemPaths":{}},"ephemeral":false,"workload":{}}',
  ]);
  t.deepEqual(problems['a context naming no closure refused'], ['the empty context: expected a refusal (InvalidArgument), but it threw an error without a kind (not one of the SDK\'s errors): no paths']);
  t.deepEqual(problems['node identity and topology'], ['maxVolumesPerNode is -1, not a whole number ≥ 0 (0: no limit)', 'topology is {"zone":7}, not a record of non-empty texts']);
  t.is(problems['staging semantics and call order']!.length, 1);
  t.regex(problems['staging semantics and call order']![0]!, /^\/.*\/vols\/kit-volume is never unpublished$/);
  const refusals = problems['target paths: refusals']!;
  t.is(refusals.length, 7);
  t.regex(refusals[0]!, /^target ".*\/vols\/kit-volume\/\.\." \(ends in "\.\."\): expected a refusal \(InvalidArgument\), but it returned ".*\/vols\/kit-volume\/\.\."$/);
  t.regex(problems['target paths: symlinks']![0]!, /^target .*\/vols\/kit-volume when it is a symlink to .*\/kit-elsewhere: expected a refusal \(InvalidArgument or FailedPrecondition\), but it returned /);
  t.is(problems['target paths: protected directories']!.length, 2);
  // It never stages; its staging check (canonicalPath alone) is tried on its targets and lets through what lies outside.
  t.deepEqual(problems['staging paths: refusals'], ['staging "/etc/nixmount-kit" (lies outside the orchestrator\'s directories): expected a refusal (InvalidArgument), but it returned "/etc/nixmount-kit"']);
  t.deepEqual(problems['staging paths: canonical forms'], []);
});

test('checkContract throws one readable KitFailure listing every failed check', async (t) => {
  const error = await t.throwsAsync(checkContract(`${FIXTURES}adapters/broken.mjs`), { instanceOf: KitFailure });
  t.true(error!.message.startsWith(`the adapter "${FIXTURES}adapters/broken.mjs" fails 12 of the kit's 17 contract checks:\n  ✗ user keys\n      - {"x86_64-linux"`), error!.message);
  t.deepEqual(error!.failed.map((check) => check.name), [
    'user keys', 'unknown keys refused by name', 'a context naming no closure refused', 'node identity and topology', 'staging semantics and call order',
    'target paths: canonical forms', 'target paths: refusals', 'target paths: symlinks', 'target paths: protected directories',
    'staging paths: refusals', 'staging paths: symlinks', 'staging paths: protected directories',
  ]);
});

test('a module that does not load or does not fit fails the first check and skips the rest', async (t) => {
  const results = await contractChecks(`${FIXTURES}adapters/misfit.mjs`);
  t.regex(results[0]!.problems[0]!, /does not fit nixmount's adapter SDK/);
  t.true(results.slice(1).every((result) => result.problems.length === 1 && result.problems[0] === 'not checked: the module did not load'));
});

test('an adapter that checks node ids is told of the kit\'s nodeId option, and passes given one it accepts', async (t) => {
  const strict = {
    ...localModule,
    create(context: Parameters<typeof localModule.create>[0]) {
      if (!/^node-\d+$/.test(context.nodeId)) throw new Error(`node id ${JSON.stringify(context.nodeId)} is not node-<number>`);
      return localModule.create(context);
    },
  };
  const refused = await contractChecks(strict);
  t.deepEqual(refused.find((result) => result.name === 'adapter builds from the replay options')!.problems, [
    'create threw, given the kit\'s default node id "kit-node" (give one the adapter accepts with the kit\'s nodeId option) and the replay\'s options {}: node id "kit-node" is not node-<number>',
  ]);
  const given = await contractChecks(strict, { nodeId: 'node-1' });
  t.deepEqual(given.filter((result) => result.problems.length > 0), []);
});

test('a non-staging adapter whose checkStagingPath checks nothing fails the staging-path checks, the replay\'s targets standing in', async (t) => {
  const lax = {
    ...localModule,
    create(context: Parameters<typeof localModule.create>[0]) {
      const adapter = localModule.create(context);
      return Object.assign(Object.create(Object.getPrototypeOf(adapter)), adapter, { checkStagingPath: (path: string) => path });
    },
  };
  const results = Object.fromEntries((await contractChecks(lax)).map((result) => [result.name, result.problems]));
  t.deepEqual(results['target paths: refusals'], []);
  t.is(results['staging paths: refusals']!.length, 7);
  t.regex(results['staging paths: refusals']![0]!, /^staging ".*\/\.\." \(ends in "\.\."\): expected a refusal \(InvalidArgument\), but it returned ".*\/\.\."$/);
  t.true(results['staging paths: symlinks']!.length > 0);
  t.is(results['staging paths: protected directories']!.length, 2);
  t.deepEqual(results['staging paths: canonical forms'], [], 'which staging paths a non-staging adapter accepts is its own affair');
});

/** A module whose orchestrator adds `hive.io/workload`; its adapter recognises its keys by `isHiveKey`, its replay declares `openKeyPrefixes`. */
function hiveModule(isHiveKey: (key: string) => boolean, openKeyPrefixes?: readonly string[]) {
  return {
    ...localModule,
    create(context: Parameters<typeof localModule.create>[0]) {
      const adapter = localModule.create(context);
      return Object.assign(Object.create(Object.getPrototypeOf(adapter)), adapter, {
        parseVolumeContext: (volumeContext: Record<string, string>) => ({
          spec: parseUserKeys(volumeContext, isHiveKey),
          ephemeral: false,
          workload: volumeContext['hive.io/workload'] ? { workload: volumeContext['hive.io/workload'] } : {},
        }),
      });
    },
    replay: {
      ...localModule.replay!,
      ...(openKeyPrefixes ? { openKeyPrefixes } : {}),
      steps: (root: string, volume: Parameters<NonNullable<typeof localModule.replay>['steps']>[1]) =>
        localModule.replay!.steps(root, volume).map((step) => (step.kind === 'publish' ? { ...step, volumeContext: { ...step.volumeContext, 'hive.io/workload': 'web' } } : step)),
    },
  };
}

const PREFIX_CHECK = 'unknown keys in the orchestrator\'s prefixes refused by name';

test('an adapter that ignores every key under its orchestrator\'s prefix fails the prefix check, naming the key it let through', async (t) => {
  const lax = Object.fromEntries((await contractChecks(hiveModule((key) => key.startsWith('hive.io/')))).map((result) => [result.name, result.problems]));
  t.is(lax[PREFIX_CHECK]!.length, 1);
  t.regex(lax[PREFIX_CHECK]![0]!, /^"hive\.io\/nixmount-kit-unknown-key" beside the replay's context .*\(its prefix is not in replay\.openKeyPrefixes\): expected a refusal \(InvalidArgument\), but it returned /);
  t.deepEqual(Object.entries(lax).filter(([name, problems]) => name !== PREFIX_CHECK && problems.length > 0), [], 'only the prefix check catches it');
});

test('an adapter that recognises exactly its orchestrator\'s keys passes the prefix check; one whose replay declares the prefix open must ignore unknown keys there', async (t) => {
  const strict = await contractChecks(hiveModule((key) => key === 'hive.io/workload'));
  t.deepEqual(strict.filter((result) => result.problems.length > 0), []);
  const open = await contractChecks(hiveModule((key) => key.startsWith('hive.io/'), ['hive.io/']));
  t.deepEqual(open.filter((result) => result.problems.length > 0), []);
  const openButRefusing = Object.fromEntries((await contractChecks(hiveModule((key) => key === 'hive.io/workload', ['hive.io/']))).map((result) => [result.name, result.problems]));
  t.is(openButRefusing[PREFIX_CHECK]!.length, 1);
  t.regex(openButRefusing[PREFIX_CHECK]![0]!, /\(its prefix is open, replay\.openKeyPrefixes\): expected it to change nothing, but it threw InvalidArgument: unknown volume context key "hive\.io\/nixmount-kit-unknown-key"/);
});

test('a replay whose openKeyPrefixes is not a list of prefixes does not fit the SDK', async (t) => {
  const results = await contractChecks({ ...localModule, replay: { ...localModule.replay!, openKeyPrefixes: 'hive.io/' as unknown as string[] } });
  t.deepEqual(results[0]!.problems, ['replay.openKeyPrefixes must be an array of non-empty prefixes such as "csi.storage.k8s.io/", not string']);
});
