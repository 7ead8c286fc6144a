import test from 'ava';
import { nodeServices } from '../../src/composition-root.js';
import { AbortedError, FailedPreconditionError, InvalidArgumentError } from '../../src/core/errors.js';
import type { VolumeContextReader } from '../../src/core/node-volumes.js';
import type { ParsedVolumeContext } from '../../src/core/orchestrator-adapter.js';
import { NodeEvents, type NodeEvent } from '../../src/core/ports/node-events.js';
import { parseUserContext } from '../../src/core/volume-context.js';
import type { VolumeSpec } from '../../src/core/volume-spec.js';
import { Deferred } from '../helpers/fakes.js';
import { RecordingLogger } from '../helpers/recording-logger.js';
import { createTestContainer } from '../helpers/test-container.js';

// The node's one front door: the CSI node service, `nixmount publish` and the host volume
// plugin all reach the core through NodeVolumes, which reads the context once, decides
// publish-from-stage, and takes the path locks for the whole call.

const APP = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app';
const REMOTE = '/nix/store/dddddddddddddddddddddddddddddddd-remote';

/** An orchestrator whose contexts are the user keys plus `pod`; counts what it is asked. */
class CountingAdapter implements VolumeContextReader {
  readonly name = 'counting';
  parsed = 0;
  completed = 0;
  constructor(readonly supportsStaging = false, private readonly extra?: VolumeSpec) {}
  parseVolumeContext(context: Readonly<Record<string, string>>): ParsedVolumeContext {
    this.parsed++;
    const { pod, ...user } = context;
    const spec = parseUserContext(user, { closureElsewhere: this.extra !== undefined });
    return {
      spec,
      ephemeral: false,
      workload: workloadOf(pod),
      ...(this.extra ? { completeSpec: async () => { this.completed++; return { ...spec, storePaths: [...spec.storePaths, ...this.extra!.storePaths] }; } } : {}),
    };
  }
  workloadOf(context: Readonly<Record<string, string>>): Record<string, string> {
    return workloadOf(context.pod);
  }
}

function workloadOf(pod: string | undefined): Record<string, string> {
  return pod ? { pod } : {};
}

function setup(adapter: VolumeContextReader = new CountingAdapter()) {
  const fakes = createTestContainer();
  fakes.nix.add(APP).add(REMOTE, [], 'cache');
  const events: NodeEvent[] = [];
  fakes.container.get<NodeEvents>(NodeEvents).subscribe((event) => events.push(event));
  return { fakes, events, volumes: nodeServices(fakes.container).volumesFor(adapter) };
}

const call = (target: string, context: Record<string, string>, extra: object = {}) => ({
  volumeId: `vol-${target}`, targetPath: target, readonly: true, accessMode: 'multi-node-reader-only' as const, mountFlags: [], context, ...extra,
});

test('the context is read once per publish, the orchestrator completing the spec once, and the record is the one the spec gives', async (t) => {
  const adapter = new CountingAdapter(false, { storePaths: [REMOTE], systemPaths: {} });
  const { volumes, fakes } = setup(adapter);
  const first = await volumes.publish(call('/t/1', { paths: APP, pod: 'ns/p' }));
  t.deepEqual({ parsed: adapter.parsed, completed: adapter.completed }, { parsed: 1, completed: 1 });
  t.deepEqual(first.roots, [APP, REMOTE]);
  const again = await volumes.publish(call('/t/1', { paths: APP, pod: 'ns/p' }));
  t.true(again.alreadyPublished, 'a repeat with the same context is OK');
  t.deepEqual({ parsed: adapter.parsed, completed: adapter.completed }, { parsed: 2, completed: 2 });
  t.is(fakes.nix.calls.realise.length, 1);
  const [record] = fakes.state.list();
  t.is(JSON.parse(record!.requestFingerprint).spec, JSON.stringify({ p: [APP, REMOTE], s: [], e: null, f: null }));
});

test('a refused context is INVALID_ARGUMENT, told to listeners as a failed publish of its workload, and runs nothing of the entrance', async (t) => {
  const { volumes, fakes, events } = setup();
  let before = 0;
  await t.throwsAsync(volumes.publish(call('/t/1', { paths: APP, typo: 'x', pod: 'ns/p' }, { beforePublish: async () => { before++; } })), {
    instanceOf: InvalidArgumentError, message: /unknown volume context key "typo"/,
  });
  t.is(before, 0, 'the entrance\'s own first step (a host volume\'s mkdir) is not run');
  t.like(events.find((event) => event.kind === 'publish-failed'), { workload: { pod: 'ns/p' }, volumeId: 'vol-/t/1', targetPath: '/t/1', reason: 'InvalidArgument', seconds: 0 });
  t.deepEqual({ records: fakes.state.records.size, mounts: fakes.mounter.mounts.size, targets: fakes.dirs.targets.size }, { records: 0, mounts: 0, targets: 0 });
});

test('publish from a stage is the orchestrator\'s: one that stages needs the staging path, one that does not refuses one', async (t) => {
  const staging = setup(new CountingAdapter(true));
  // The context is read first: a bad one is INVALID_ARGUMENT whatever else is missing.
  await t.throwsAsync(staging.volumes.publish(call('/t/1', { typo: 'x' })), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(staging.volumes.publish(call('/t/1', { paths: APP })), { instanceOf: FailedPreconditionError, message: 'staging_target_path is required: this plugin advertises STAGE_UNSTAGE_VOLUME' });
  await t.throwsAsync(staging.volumes.publish(call('/t/1', { paths: APP }, { stagingPath: '/s/1' })), { instanceOf: FailedPreconditionError, message: /not staged at \/s\/1/ });
  await staging.volumes.stage({ volumeId: 'vol-/t/1', stagingPath: '/s/1', accessMode: 'multi-node-reader-only', context: { paths: APP } });
  const queries = staging.fakes.nix.calls.query;
  const published = await staging.volumes.publish(call('/t/1', { paths: APP }, { stagingPath: '/s/1' }));
  t.is(staging.fakes.nix.calls.query, queries, 'mounted from the stage without asking the store');
  t.is(staging.fakes.state.list()[0]?.stagingPath, '/s/1');
  t.false(published.viewBuilt);

  const plain = setup(new CountingAdapter(false));
  await t.throwsAsync(plain.volumes.publish(call('/t/1', { paths: APP }, { stagingPath: '/s/1' })), { instanceOf: InvalidArgumentError, message: /counting adapter does not stage volumes/ });
  await t.throwsAsync(plain.volumes.stage({ volumeId: 'v', stagingPath: '/s/1', accessMode: 'multi-node-reader-only', context: { paths: APP } }), { instanceOf: InvalidArgumentError });
  t.is(plain.fakes.state.records.size + plain.fakes.stages.records.size, 0);
});

test('the door holds the path locks for the whole call: a second call on a busy target is ABORTED, or waits when it may, then sees the first one\'s record', async (t) => {
  const { volumes, fakes } = setup();
  fakes.nix.realiseGate = new Deferred();
  const first = volumes.publish(call('/t/slow', { paths: REMOTE }));
  for (let i = 0; i < 1000 && fakes.nix.calls.realise.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  await t.throwsAsync(volumes.publish(call('/t/slow', { paths: REMOTE })), { instanceOf: AbortedError, message: /publish of volume "vol-\/t\/slow"\) is already in progress/ });
  await t.throwsAsync(volumes.unpublish('vol-/t/slow', '/t/slow'), { instanceOf: AbortedError });
  let before = 0;
  const waiting = volumes.publish(call('/t/slow', { paths: REMOTE }, { whenBusy: { waitMs: 60_000 }, beforePublish: async () => { before++; } }));
  t.is(before, 0, 'nothing of the waiting call runs before it holds the path');
  fakes.nix.realiseGate.resolve();
  t.false((await first).alreadyPublished);
  t.true((await waiting).alreadyPublished);
  t.is(before, 1);
  t.deepEqual(await volumes.unpublish('vol-/t/slow', '/t/slow'), { wasPublished: true });
  t.deepEqual({ records: fakes.state.records.size, mounts: fakes.mounter.mounts.size }, { records: 0, mounts: 0 });
});

test('the adapter\'s workload is logged under the one field `workload`, so its names never shadow serve\'s own fields', async (t) => {
  const { volumes } = setup();
  const log = new RecordingLogger([], { volumeId: 'vol-/t/9' });
  await volumes.publish(call('/t/9', { paths: APP, pod: 'ns/p' }), log);
  const published = log.records.find((record) => record.message === 'volume published');
  t.like(published?.fields, { volumeId: 'vol-/t/9', workload: { pod: 'ns/p' } });
  t.false('pod' in (published?.fields ?? {}));
  const quiet = new RecordingLogger();
  await volumes.publish(call('/t/10', { paths: APP }), quiet);
  t.false('workload' in (quiet.records.find((record) => record.message === 'volume published')?.fields ?? { workload: 'missing' }), 'no workload, no field');
});
