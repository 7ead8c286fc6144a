import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adapterOptionValues } from '../../adapters/module/adapter-option-values.js';
import { adapterModuleProblems, adapterProblems } from '../../adapters/module/check-adapter-module.js';
import { loadAdapterModule } from '../../adapters/module/load-adapter-module.js';
import type { OrchestratorAdapter } from '../../core/orchestrator-adapter.js';
import { parseUserContext } from '../../core/volume-context.js';
import type { AdapterModule } from '../adapter-module.js';
import type { ReplayStep } from '../replay.js';
import { canonicalForms, protectedDirs, refusals, symlinks, type PathKind } from './contract-paths.js';
import { attempt, describe, expectRefusal, type Outcome } from './errors-seen.js';
import { KitFailure, type CheckResult, type KitOptions } from './kit-types.js';
import { stagingProblems } from './staging-order.js';

/** The kit's contract checks, by name, in the order they run. */
export const CONTRACT_CHECKS = [
  'module fits the SDK',
  'adapter builds from the replay options',
  'user keys',
  'orchestrator keys',
  'unknown keys refused by name',
  'unknown keys in the orchestrator\'s prefixes refused by name',
  'a context naming no closure refused',
  'node identity and topology',
  'staging semantics and call order',
  'target paths: canonical forms',
  'target paths: refusals',
  'target paths: symlinks',
  'target paths: protected directories',
  'staging paths: canonical forms',
  'staging paths: refusals',
  'staging paths: symlinks',
  'staging paths: protected directories',
] as const;
export type ContractCheck = (typeof CONTRACT_CHECKS)[number];

// Well-formed store paths (Nix's base-32 alphabet); the contract never asks Nix about them.
const SAMPLE = '/nix/store/0000000000000000000000000000000a-nixmount-kit-sample';
const SAMPLE_2 = '/nix/store/0000000000000000000000000000000b-nixmount-kit-other';
const USER_CONTEXTS: ReadonlyArray<Record<string, string>> = [
  { paths: SAMPLE },
  { paths: `${SAMPLE} ${SAMPLE_2}` },
  { 'x86_64-linux': SAMPLE, 'aarch64-linux': SAMPLE_2 },
  { expression: 'import ./closure.nix {}' },
  { flakeRef: 'github:example/flake#package' },
];

/**
 * The prefixes of the orchestrator's own keys in the replay's contexts (each key up to its
 * last `/`; a key without one has none): an unknown key under one is refused by name like
 * any other unknown key, a user's typo inside the orchestrator's namespace included,
 * unless the replay declares the prefix open (the orchestrator adds keys there over its
 * releases), where such a key must change nothing.
 */
function prefixProblems(adapter: OrchestratorAdapter, sent: ReadonlyArray<Readonly<Record<string, string>>>, open: readonly string[]): string[] {
  const problems: string[] = [];
  for (const context of sent) {
    const prefixes = new Set(Object.keys(context).filter((key) => key.includes('/')).map((key) => key.slice(0, key.lastIndexOf('/') + 1)));
    for (const prefix of prefixes) {
      const key = `${prefix}nixmount-kit-unknown-key`;
      const what = `${JSON.stringify(key)} beside the replay's context ${JSON.stringify(context)}`;
      const outcome = attempt(() => adapter.parseVolumeContext({ ...context, [key]: 'x' }));
      if (!open.some((given) => key.startsWith(given))) {
        problems.push(...expectRefusal(outcome, ['InvalidArgument'], `${what} (its prefix is not in replay.openKeyPrefixes)`, `"${key}"`));
        continue;
      }
      const expected = specOf(attempt(() => adapter.parseVolumeContext(context)));
      const spec = specOf(outcome);
      if (spec === undefined) problems.push(`${what} (its prefix is open, replay.openKeyPrefixes): expected it to change nothing, but it ${describe(outcome)}`);
      else if (expected !== undefined && spec !== expected) problems.push(`${what} (its prefix is open, replay.openKeyPrefixes): it changed the spec to ${spec}`);
    }
  }
  return problems;
}

/** The spec a parse returned, as JSON (`undefined` when it returned none); undefined when it threw. */
function specOf(outcome: Outcome): string | undefined {
  return 'returned' in outcome ? (JSON.stringify((outcome.returned as { spec?: unknown }).spec) ?? 'undefined') : undefined;
}

/** Loads `module` when it is a specifier (a path or package name, as `serve --adapter-module` takes it). */
export async function resolveModule(module: AdapterModule | string): Promise<unknown> {
  return typeof module === 'string' ? loadAdapterModule(module) : module;
}

function stringRecord(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.entries(value).every(([key, entry]) => key !== '' && typeof entry === 'string' && entry !== '');
}

/**
 * Runs every contract check on an adapter module (an object, or a specifier loaded as
 * serve would): each result names what it checked and, when it failed, each input and
 * what the adapter did with it. Never throws for a failed check.
 */
export async function contractChecks(module: AdapterModule | string, options: KitOptions = {}): Promise<CheckResult[]> {
  const results = new Map<ContractCheck, string[]>(CONTRACT_CHECKS.map((name) => [name, []]));
  const fail = (name: ContractCheck, problems: string[]) => results.get(name)!.push(...problems);
  const finish = () => CONTRACT_CHECKS.map((name) => ({ name, problems: results.get(name)! }));
  const skipRest = (from: number, why: string) => {
    for (const name of CONTRACT_CHECKS.slice(from)) fail(name, [why]);
    return finish();
  };

  let loaded: unknown;
  try {
    loaded = await resolveModule(module);
  } catch (error) {
    fail('module fits the SDK', [error instanceof Error ? error.message : String(error)]);
    return skipRest(1, 'not checked: the module did not load');
  }
  const moduleProblems = adapterModuleProblems(loaded);
  if (moduleProblems.length > 0) {
    fail('module fits the SDK', moduleProblems);
    return skipRest(1, 'not checked: the module does not fit the SDK');
  }
  const adapterModule = loaded as AdapterModule;
  if (adapterModule.replay === undefined) {
    fail('module fits the SDK', ['it has no replay: the kit needs the orchestrator\'s call order and paths (AdapterModule.replay)']);
    return skipRest(1, 'not checked: the module has no replay');
  }

  const root = options.dir ?? (await mkdtemp(join(tmpdir(), 'nixmount-kit-')));
  try {
    const nodeId = options.nodeId ?? 'kit-node';
    let optionValues: Record<string, string> | undefined;
    let build: (protectedDirs: readonly string[]) => OrchestratorAdapter;
    let adapter: OrchestratorAdapter;
    try {
      const pairs = Object.entries(adapterModule.replay.options(root)).map(([key, value]) => `${key}=${value}`);
      const values = adapterOptionValues(adapterModule, { pairs, env: {} });
      optionValues = values;
      build = (dirs) => adapterModule.create({ nodeId, protectedDirs: dirs, options: values });
      adapter = build([join(root, 'state')]);
    } catch (error) {
      // The kit's node id is a made-up one: an adapter that checks node ids needs one it accepts.
      const which = options.nodeId === undefined ? `the kit's default node id ${JSON.stringify(nodeId)} (give one the adapter accepts with the kit's nodeId option)` : `the node id ${JSON.stringify(nodeId)}`;
      fail('adapter builds from the replay options', [`create threw, given ${which} and the replay's options ${JSON.stringify(optionValues ?? {})}: ${error instanceof Error ? error.message : String(error)}`]);
      return skipRest(2, 'not checked: the adapter did not build');
    }
    const shape = adapterProblems(adapter, adapterModule);
    if (shape.length > 0) {
      fail('adapter builds from the replay options', shape);
      return skipRest(2, 'not checked: the adapter does not fit the SDK');
    }

    let steps: ReplayStep[];
    try {
      steps = adapterModule.replay.steps(root, { volumeId: 'kit-volume', userContext: { paths: SAMPLE } });
    } catch (error) {
      fail('staging semantics and call order', [`replay.steps threw: ${error instanceof Error ? error.message : String(error)}`]);
      steps = [];
    }

    for (const context of USER_CONTEXTS) {
      const outcome = attempt(() => adapter.parseVolumeContext(context));
      const expected = parseUserContext(context);
      const spec = specOf(outcome);
      if (spec === undefined) fail('user keys', [`${JSON.stringify(context)}: ${describe(outcome)}`]);
      else if (spec !== JSON.stringify(expected)) fail('user keys', [`${JSON.stringify(context)}: the spec is ${spec}, not ${JSON.stringify(expected)} (parseUserContext's)`]);
    }

    const sent = steps.flatMap((step) => (step.kind === 'stage' || step.kind === 'publish' ? [step.volumeContext] : []));
    if (sent.length === 0) fail('orchestrator keys', ['the replay sends no volume context (no stage or publish step)']);
    for (const context of sent) {
      const outcome = attempt(() => adapter.parseVolumeContext(context));
      const label = `the replay's context ${JSON.stringify(context)}`;
      if (!('returned' in outcome)) {
        fail('orchestrator keys', [`${label}: ${describe(outcome)}`]);
        continue;
      }
      const parsed = outcome.returned as { spec?: unknown; ephemeral?: unknown; workload?: unknown };
      if (JSON.stringify(parsed.spec) !== JSON.stringify(parseUserContext({ paths: SAMPLE }))) fail('orchestrator keys', [`${label}: the orchestrator's keys changed the spec to ${JSON.stringify(parsed.spec)}`]);
      if (typeof parsed.ephemeral !== 'boolean') fail('orchestrator keys', [`${label}: ephemeral is ${JSON.stringify(parsed.ephemeral)}, not true or false`]);
      if (typeof parsed.workload !== 'object' || parsed.workload === null || !Object.values(parsed.workload).every((value) => typeof value === 'string')) {
        fail('orchestrator keys', [`${label}: workload is ${JSON.stringify(parsed.workload)}, not a record of texts`]);
      }
    }

    for (const context of [{ paths: SAMPLE }, ...sent]) {
      for (const key of ['nixmount-kit-unknown-key', 'path']) {
        fail('unknown keys refused by name', expectRefusal(attempt(() => adapter.parseVolumeContext({ ...context, [key]: 'x' })), ['InvalidArgument'], `${JSON.stringify(key)} beside ${JSON.stringify(context)}`, `"${key}"`));
      }
    }
    fail('unknown keys in the orchestrator\'s prefixes refused by name', prefixProblems(adapter, sent, adapterModule.replay.openKeyPrefixes ?? []));
    fail('a context naming no closure refused', expectRefusal(attempt(() => adapter.parseVolumeContext({})), ['InvalidArgument'], 'the empty context'));

    const first = attempt(() => adapter.nodeIdentity());
    if (!('returned' in first)) fail('node identity and topology', [`nodeIdentity ${describe(first)}`]);
    else {
      const identity = first.returned as { nodeId?: unknown; maxVolumesPerNode?: unknown; topology?: unknown };
      if (identity.nodeId !== nodeId) fail('node identity and topology', [`nodeId is ${JSON.stringify(identity.nodeId)}, not the node id it was given (${JSON.stringify(nodeId)})`]);
      if (!Number.isInteger(identity.maxVolumesPerNode) || (identity.maxVolumesPerNode as number) < 0) {
        fail('node identity and topology', [`maxVolumesPerNode is ${JSON.stringify(identity.maxVolumesPerNode)}, not a whole number ≥ 0 (0: no limit)`]);
      }
      if (!stringRecord(identity.topology)) fail('node identity and topology', [`topology is ${JSON.stringify(identity.topology)}, not a record of non-empty texts`]);
      const again = attempt(() => adapter.nodeIdentity());
      if (JSON.stringify(again) !== JSON.stringify(first)) fail('node identity and topology', [`a second call answered differently: ${describe(again)}`]);
    }

    fail('staging semantics and call order', stagingProblems(adapter.supportsStaging, steps));

    for (const step of steps) if (step.kind === 'mkdir') await mkdir(step.path, { recursive: true });
    const paths: Record<PathKind, string[]> = {
      target: [...new Set(steps.flatMap((step) => (step.kind === 'publish' ? [step.targetPath] : [])))],
      staging: [...new Set(steps.flatMap((step) => (step.kind === 'stage' ? [step.stagingPath] : [])))],
    };
    for (const kind of ['target', 'staging'] as const) {
      if (paths[kind].length === 0) {
        if (kind === 'target') fail('target paths: canonical forms', ['the replay publishes nothing']);
        if (kind === 'target' || adapter.supportsStaging || paths.target.length === 0) continue;
        // An adapter that never stages still refuses what no orchestrator sends as a staging
        // path (docs/adapters.md): its targets stand in, their canonical forms its own affair.
        fail('staging paths: refusals', refusals(adapter, 'staging', paths.target));
        fail('staging paths: symlinks', await symlinks(adapter, 'staging', paths.target, join(root, 'kit-elsewhere')));
        fail('staging paths: protected directories', protectedDirs(build, 'staging', paths.target));
        continue;
      }
      fail(`${kind} paths: canonical forms`, canonicalForms(adapter, kind, paths[kind]));
      fail(`${kind} paths: refusals`, refusals(adapter, kind, paths[kind]));
      fail(`${kind} paths: symlinks`, await symlinks(adapter, kind, paths[kind], join(root, 'kit-elsewhere')));
      fail(`${kind} paths: protected directories`, protectedDirs(build, kind, paths[kind]));
    }
    return finish();
  } finally {
    if (options.dir === undefined) await rm(root, { recursive: true, force: true });
  }
}

/** Runs the contract checks and throws a KitFailure listing every failed one (for any test runner). */
export async function checkContract(module: AdapterModule | string, options: KitOptions = {}): Promise<CheckResult[]> {
  const results = await contractChecks(module, options);
  const failed = results.filter((result) => result.problems.length > 0);
  const name = typeof module === 'string' ? module : module.name;
  if (failed.length > 0) throw new KitFailure(`the adapter ${JSON.stringify(name)} fails ${failed.length} of the kit's ${results.length} contract checks`, failed);
  return results;
}
