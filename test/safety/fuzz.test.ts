// Property-based fuzzing of one real plugin over its socket (fast-check): volume contexts, ids,
// target and staging paths, capabilities, mount flags and readonly. Properties: never INTERNAL
// (nor UNKNOWN), every answer within 5 s, status messages ≤ 4096 bytes, and nothing left after
// each case (whatever succeeded is unpublished; no stray mount or record; assertNodeClean at the end).
// Fixed seed, 150 runs per property in `npm test`; NIXMOUNT_FUZZ_RUNS / NIXMOUNT_FUZZ_SEED for more.
import test, { type ExecutionContext } from 'ava';
import { status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { mkdir, readdir, symlink } from 'node:fs/promises';
import { dirname, join, normalize, resolve } from 'node:path';
import { capabilityArb, fuzzParameters, pathArb, volumeContextArb, volumeIdArb, type PathPlaces } from '../helpers/fuzz-arbitraries.js';
import { farmBinds, stateMounts, viewBinds } from '../helpers/node-clean.js';
import { answer, codeName, publishRequest, recordFiles, safetyNode, type Answer, type SafetyNode } from './safety-node.js';

const ANSWER_WITHIN_MS = 5_000;
const MAX_MESSAGE = 4096;
const FORBIDDEN = new Set([status.INTERNAL, status.UNKNOWN, status.DEADLINE_EXCEEDED]);

interface FuzzCase {
  volumeId: string;
  target: string;
  staging: string;
  context: Record<string, string>;
  capability: unknown;
  readonly: boolean;
  /** Besides publish (and its unpublish): also try these on the same paths. */
  extra: 'none' | 'unpublish-other-id' | 'stats' | 'stage' | 'unpublish-only';
}

/** Each dimension is valid 3 times in 4, so about a quarter of the cases publish for real (and must leave nothing). */
function mostly<T>(valid: fc.Arbitrary<T>, fuzzed: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: fuzzed });
}

const VALID_MODES = ['SINGLE_NODE_WRITER', 'SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY', 'MULTI_NODE_MULTI_WRITER', 'SINGLE_NODE_MULTI_WRITER'];

function caseArb(
  places: PathPlaces,
  root: string,
  targets = pathArb(places),
  validTargets = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,15}$/).map((name) => `${places.targets}/${name}`),
  validStaging: fc.Arbitrary<string> = fc.constant(''),
) {
  return fc.record<FuzzCase>({
    volumeId: mostly(fc.constantFrom('v1', 'vol-a'), volumeIdArb),
    target: mostly(validTargets, targets),
    staging: mostly(validStaging, pathArb(places)),
    context: mostly(fc.constant({ paths: root }), volumeContextArb(root)),
    capability: mostly(fc.constantFrom(...VALID_MODES).map((mode) => ({ mount: { fs_type: '', mount_flags: [] }, access_mode: { mode } })), capabilityArb),
    readonly: fc.boolean(),
    extra: fc.constantFrom('none', 'none', 'none', 'unpublish-other-id', 'stats', 'stage', 'unpublish-only'),
  });
}

function show(value: string): string {
  return JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…(${value.length})` : value);
}

class Fuzzer {
  cases = 0;
  readonly codes = new Map<string, number>();

  constructor(
    private readonly node: SafetyNode,
    private readonly keepers: string[],
    /** Nomad: every case stages first (its staging path fuzzed too) and unstages last. */
    private readonly stages = false,
  ) {}

  private makeParent(path: string): Promise<unknown> {
    // The orchestrator creates the parent; only ever below the test's own dir, never through the /etc link.
    const parent = dirname(normalize(path.replace(/\0/g, '')));
    if (parent.startsWith(`${this.node.dir}/`) && !parent.startsWith(this.node.stateDir) && !parent.includes('link-to-etc')) return mkdir(parent, { recursive: true }).catch(() => undefined);
    return Promise.resolve();
  }

  private check(what: string, result: Answer): void {
    const tally = `${what.replace(/^case \d+ \(.*\): /s, '')} ${codeName(result.code)}`;
    this.codes.set(tally, (this.codes.get(tally) ?? 0) + 1);
    if (FORBIDDEN.has(result.code)) throw new Error(`${what} answered ${codeName(result.code)}: ${result.details.slice(0, 500)}`);
    if (result.ms >= ANSWER_WITHIN_MS) throw new Error(`${what} took ${result.ms} ms`);
    const size = Buffer.byteLength(result.details);
    if (size > MAX_MESSAGE) throw new Error(`${what} answered a ${size}-byte message: ${result.details.slice(0, 300)}…`);
  }

  private call(method: string, request: unknown): Promise<Answer> {
    return answer(this.node.serve, method, request, ANSWER_WITHIN_MS + 1000);
  }

  async run(c: FuzzCase): Promise<void> {
    this.cases++;
    const where = `case ${this.cases} (id ${show(c.volumeId)}, target ${show(c.target)})`;
    await this.makeParent(c.target);
    let staged: Answer | undefined;
    if (this.stages) {
      await this.makeParent(c.staging);
      staged = await this.call('NodeStageVolume', { volume_id: c.volumeId, staging_target_path: c.staging, volume_capability: c.capability, volume_context: c.context });
      this.check(`${where}: stage`, staged);
    }

    if (c.extra !== 'unpublish-only') {
      const request = { ...publishRequest(c.volumeId, c.target, c.context, { readonly: c.readonly, staging: c.staging }), volume_capability: c.capability };
      const published = await this.call('NodePublishVolume', request);
      this.check(`${where}: publish`, published);
      if (c.extra === 'stats') this.check(`${where}: stats`, await this.call('NodeGetVolumeStats', { volume_id: c.volumeId, volume_path: c.target }));
      if (c.extra === 'unpublish-other-id') {
        this.check(`${where}: unpublish by another id`, await this.call('NodeUnpublishVolume', { volume_id: `${c.volumeId}-other`, target_path: c.target }));
        // Whatever it answers, another volume id never tears down this volume.
        const held = stateMounts(await this.node.ns.mounts(), [this.node.stateDir]).filter((entry) => entry.mountPoint === resolve(c.target));
        if (published.code === status.OK && held.length !== 1) throw new Error(`${where}: after an unpublish by another id, ${held.length} mounts of ours at the target (expected the published one)`);
      }
      if (c.extra === 'stage' && !this.stages) {
        this.check(`${where}: stage`, await this.call('NodeStageVolume', { volume_id: c.volumeId, staging_target_path: c.staging || c.target, volume_capability: c.capability, volume_context: c.context }));
        this.check(`${where}: unstage`, await this.call('NodeUnstageVolume', { volume_id: c.volumeId, staging_target_path: c.staging || c.target }));
      }
      if (published.code === status.OK) {
        const unpublished = await this.call('NodeUnpublishVolume', { volume_id: c.volumeId, target_path: c.target });
        this.check(`${where}: unpublish`, unpublished);
        if (unpublished.code !== status.OK) throw new Error(`${where}: unpublish of a successful publish answered ${codeName(unpublished.code)}: ${unpublished.details.slice(0, 300)}`);
      }
    } else {
      this.check(`${where}: unpublish only`, await this.call('NodeUnpublishVolume', { volume_id: c.volumeId, target_path: c.target }));
    }
    if (staged?.code === status.OK) {
      const unstaged = await this.call('NodeUnstageVolume', { volume_id: c.volumeId, staging_target_path: c.staging });
      this.check(`${where}: unstage`, unstaged);
      if (unstaged.code !== status.OK) throw new Error(`${where}: unstage of a successful stage answered ${codeName(unstaged.code)}: ${unstaged.details.slice(0, 300)}`);
    }

    // The read-only bind each live view keeps (what read-only volumes are bound from), and a live
    // bind farm's per-path binds in the view, that kept tree and the keepers' trees, are not strays.
    const views = (await readdir(join(this.node.stateDir, 'views')).catch(() => [] as string[])).filter((name) => !name.startsWith('.'));
    const ours = stateMounts(await this.node.ns.mounts(), [this.node.stateDir]);
    const viewKept = viewBinds(ours, [this.node.stateDir], views);
    const kept = [...viewKept, ...farmBinds(ours, [this.node.stateDir], views, viewKept, this.keepers)];
    const strays = ours.filter((entry) => !this.keepers.includes(entry.mountPoint) && !kept.includes(entry));
    if (strays.length > 0) throw new Error(`${where}: left mounts ${strays.map((entry) => entry.mountPoint).join(', ')}`);
    const records = await recordFiles(this.node.stateDir);
    if (records.length !== this.keepers.length) throw new Error(`${where}: ${records.length} records for ${this.keepers.length} live volumes`);
    const stageRecords = await recordFiles(this.node.stateDir, 'stages');
    if (stageRecords.length > 0) throw new Error(`${where}: ${stageRecords.length} stage records left`);
  }
}

async function fuzzNode(t: ExecutionContext, orchestrator: (dir: string) => string[] = () => []): Promise<{ node: SafetyNode; places: PathPlaces; keepers: string[] }> {
  const node = await safetyNode(t, { noStart: true });
  const cwd = join(node.dir, 'cwd'); // relative paths must never resolve anywhere but here
  await mkdir(cwd);
  node.serve.options.cwd = cwd;
  node.serve.options.args = orchestrator(node.dir);
  t.true((await node.serve.launch()).ready);
  const targets = join(node.dir, 'targets');
  await mkdir(targets);
  const places: PathPlaces = {
    targets,
    linkToEtc: join(node.dir, 'link-to-etc'),
    linkToTargets: join(node.dir, 'link-to-targets'),
    stateDir: node.stateDir,
    storePath: node.fixture.root,
  };
  await symlink('/etc', places.linkToEtc);
  await symlink(targets, places.linkToTargets);
  return { node, places, keepers: [] };
}

async function runProperty(t: ExecutionContext, fuzzer: Fuzzer, arbitrary: fc.Arbitrary<FuzzCase>, node: SafetyNode, keepers: string[]): Promise<void> {
  const parameters = fuzzParameters();
  t.timeout(Math.max(5 * 60_000, parameters.numRuns * 2_000)); // a long NIXMOUNT_FUZZ_RUNS run is not a hang
  const started = Date.now();
  const result = await fc.check(fc.asyncProperty(arbitrary, (c) => fuzzer.run(c)), parameters);
  t.log(`${fuzzer.cases} cases ran (seed ${parameters.seed}, ${parameters.numRuns} runs asked) in ${Math.round((Date.now() - started) / 1000)} s`);
  t.log(`answers: ${[...fuzzer.codes].sort().map(([code, n]) => `${code} ×${n}`).join(', ')}`);
  if (result.failed) {
    const example = JSON.stringify(result.counterexample?.[0], (_key, value: unknown) => (typeof value === 'string' ? show(value).slice(1, -1) : value));
    t.fail(`after ${result.numRuns} cases (seed ${result.seed}, path ${result.counterexamplePath}): ${String((result.errorInstance as Error | undefined)?.message ?? result.errorInstance).slice(0, 1500)}\ncounterexample: ${example.slice(0, 2000)}`);
  }
  else t.pass();
  await node.clean(t, { liveTargets: keepers });
}

test.serial('fuzz: local adapter: never INTERNAL, answers within 5 s, messages ≤ 4096 bytes, nothing left after any request', async (t) => {
  const { node, places, keepers } = await fuzzNode(t);
  // A keeper keeps the view warm, so the many successful publishes cost a mount, not a view build.
  const keeper = join(node.dir, 'keeper', 'mount');
  await mkdir(dirname(keeper));
  const kept = await answer(node.serve, 'NodePublishVolume', publishRequest('keeper', keeper, { paths: node.fixture.root }));
  t.is(codeName(kept.code), 'OK', kept.details);
  keepers.push(keeper);
  const fuzzer = new Fuzzer(node, keepers);
  await runProperty(t, fuzzer, caseArb(places, node.fixture.root), node, keepers);
});

test.serial('fuzz: kubernetes adapter: never INTERNAL, answers within 5 s, messages ≤ 4096 bytes, nothing left after any request', async (t) => {
  const { node, places, keepers } = await fuzzNode(t, (dir) => ['--orchestrator', 'kubernetes', '--kubelet-dir', join(dir, 'kubelet')]);
  const kubelet = join(node.dir, 'kubelet');
  await mkdir(join(kubelet, 'pods'), { recursive: true });
  await symlink(join(node.dir, 'targets'), join(kubelet, 'pods', 'linked-pod'));
  const segment = fc.oneof(
    { weight: 6, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,15}$/) },
    { weight: 1, arbitrary: fc.constantFrom('.', '..', '', 'linked-pod', '../..', 'a/b') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).map((s) => s.replace(/\0/g, '_')) },
  );
  const kubeletTargets = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(segment, segment).map(([pod, volume]) => `${kubelet}/pods/${pod}/volumes/kubernetes.io~csi/${volume}/mount`) },
    { weight: 1, arbitrary: fc.tuple(segment, segment).map(([pod, volume]) => `${kubelet}/pods/${pod}/volumes/kubernetes.io~csi/${volume}/mount/`) },
    { weight: 1, arbitrary: fc.tuple(segment, segment).map(([pod, volume]) => `${kubelet}//pods/${pod}/volumes/kubernetes.io~csi/${volume}/mount`) },
    { weight: 1, arbitrary: segment.map((volume) => `${kubelet}/pods/linked-pod/volumes/kubernetes.io~csi/${volume}/mount`) },
    { weight: 2, arbitrary: pathArb(places) },
  );
  // kubelet creates …/<volume>/ (it writes vol_data.json there) before publishing.
  const validTargets = fc.stringMatching(/^[a-z0-9]{1,8}$/).map((pod) => `${kubelet}/pods/${pod}/volumes/kubernetes.io~csi/nix/mount`);
  const arbitrary = caseArb(places, node.fixture.root, kubeletTargets, validTargets).map((c) => ({
    ...c,
    context: Object.keys(c.context).length > 0 && Math.abs(c.volumeId.length % 2) === 0 ? { ...c.context, 'csi.storage.k8s.io/ephemeral': 'true', 'csi.storage.k8s.io/pod.name': 'p', 'csi.storage.k8s.io/pod.namespace': 'default', 'csi.storage.k8s.io/pod.uid': 'u', 'csi.storage.k8s.io/serviceAccount.name': 'default' } : c.context,
  }));
  const fuzzer = new Fuzzer(node, keepers);
  await runProperty(t, fuzzer, arbitrary, node, keepers);
});

test.serial('fuzz: nomad adapter (stage, publish, unpublish, unstage): never INTERNAL, answers within 5 s, messages ≤ 4096 bytes, nothing left after any request', async (t) => {
  const { node, places, keepers } = await fuzzNode(t, (dir) => ['--orchestrator', 'nomad', '--stage-publish-base-dir', join(dir, 'nomad')]);
  const base = join(node.dir, 'nomad');
  const usage = fc.constantFrom('ro-file-system-multi-node-reader-only', 'rw-file-system-single-node-writer', 'ro-file-system-single-node-reader-only', 'rw-file-system-multi-node-multi-writer');
  const name = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,11}$/);
  const segment = fc.oneof({ weight: 4, arbitrary: name }, { weight: 1, arbitrary: fc.constantFrom('.', '..', '', 'a/b', 'rw-file-system-block-device') });
  const validTargets = fc.tuple(name, usage).map(([alloc, u]) => `${base}/per-alloc/${alloc}/vol1/${u}`);
  const validStaging = usage.map((u) => `${base}/staging/default/vol1/${u}`);
  const nomadPaths = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(segment, segment, usage).map(([alloc, volume, u]) => `${base}/per-alloc/${alloc}/${volume}/${u}`) },
    { weight: 3, arbitrary: fc.tuple(segment, segment, usage).map(([ns, volume, u]) => `${base}/staging/${ns}/${volume}/${u}`) },
    { weight: 1, arbitrary: fc.tuple(segment, segment).map(([a, b]) => `${base}/per-alloc/${a}/${b}/junk-usage/`) },
    { weight: 2, arbitrary: pathArb(places) },
  );
  const fuzzer = new Fuzzer(node, keepers, true);
  await runProperty(t, fuzzer, caseArb(places, node.fixture.root, nomadPaths, validTargets, validStaging), node, keepers);
});
