import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EventRecorder, DEFAULT_RECORDER_OPTIONS, type RecorderOptions } from '../../../../src/adapters/kubernetes/events/event-recorder.js';
import { EventsApi } from '../../../../src/adapters/kubernetes/events/events-api.js';
import type { PodEvent } from '../../../../src/adapters/kubernetes/events/event-reasons.js';
import { inClusterApiServer } from '../../../../src/adapters/kubernetes/api/in-cluster.js';
import { FakeApiServer } from '../../../helpers/fake-api-server.js';
import { RecordingLogger } from '../../../helpers/recording-logger.js';
import { tempDir } from '../../../helpers/temp.js';

const POD = { namespace: 'shop', name: 'web-0', uid: '6f1c7f5e-0000-4000-8000-000000000001' };
const FAILED = 'Kubernetes Events: posting an event failed; the volume is not affected';

function occurrence(reason: PodEvent['reason'], message: string, pod = POD): PodEvent {
  return { pod, reason, type: reason === 'VolumePublished' || reason === 'NixRealising' ? 'Normal' : 'Warning', message };
}

async function recorderFor(t: Parameters<typeof FakeApiServer.start>[0], options: Partial<RecorderOptions> = {}) {
  const server = await FakeApiServer.start(t);
  const log = new RecordingLogger();
  let clock = new Date('2026-11-23T22:00:00.400Z');
  const api = new EventsApi(await inClusterApiServer(server.env, server.serviceAccountDir));
  const recorder = new EventRecorder(api, { ...DEFAULT_RECORDER_OPTIONS, nodeName: 'worker-1', minIntervalMs: 0, now: () => clock, ...options }, log);
  t.teardown(() => recorder.stop());
  return { server, log, recorder, tick: (ms: number) => (clock = new Date(clock.getTime() + ms)) };
}

test('the first occurrence POSTs a core/v1 Event on the pod with the bearer token, as kube-apiserver checks it', async (t) => {
  const { server, recorder } = await recorderFor(t);
  recorder.record(occurrence('VolumePublished', 'volume nix: mounted 3 store paths'));
  await recorder.drained();
  t.deepEqual(server.refusals(), []);
  t.deepEqual(server.seen.map((r) => [r.method, r.path, r.status]), [['POST', '/api/v1/namespaces/shop/events', 201]]);
  const [event] = server.list();
  t.regex(event.metadata.name, /^web-0\.[0-9a-f]+$/);
  t.deepEqual(event, {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: event.metadata.name, namespace: 'shop', resourceVersion: '1' },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'web-0', namespace: 'shop', uid: POD.uid },
    reason: 'VolumePublished',
    message: 'volume nix: mounted 3 store paths',
    type: 'Normal',
    source: { component: 'nixmount', host: 'worker-1' },
    reportingComponent: 'nixmount',
    reportingInstance: 'worker-1',
    firstTimestamp: '2026-11-23T22:00:00Z',
    lastTimestamp: '2026-11-23T22:00:00Z',
    count: 1,
  });
});

test('a repeat for the same pod and reason PATCHes count, lastTimestamp and message of the same Event', async (t) => {
  const { server, recorder, tick } = await recorderFor(t);
  recorder.record(occurrence('ClosureNotFound', 'first'));
  await recorder.drained();
  tick(7000);
  recorder.record(occurrence('ClosureNotFound', 'second'));
  await recorder.drained();
  recorder.record(occurrence('InvalidVolume', 'another reason: another Event'));
  recorder.record(occurrence('ClosureNotFound', 'other pod', { ...POD, name: 'web-1', uid: 'u-2' }));
  await recorder.drained();
  t.deepEqual(server.refusals(), []);
  const name = server.list()[0].metadata.name;
  t.deepEqual(server.seen.map((r) => [r.method, r.path]), [
    ['POST', '/api/v1/namespaces/shop/events'],
    ['PATCH', `/api/v1/namespaces/shop/events/${name}`],
    ['POST', '/api/v1/namespaces/shop/events'],
    ['POST', '/api/v1/namespaces/shop/events'],
  ]);
  t.deepEqual(server.seen[1]!.body, { count: 2, lastTimestamp: '2026-11-23T22:00:07Z', message: 'second' });
  t.deepEqual(
    server.list().map((e) => [e.involvedObject.name, e.reason, e.count, e.firstTimestamp, e.lastTimestamp, e.message]),
    [
      ['web-0', 'ClosureNotFound', 2, '2026-11-23T22:00:00Z', '2026-11-23T22:00:07Z', 'second'],
      ['web-0', 'InvalidVolume', 1, '2026-11-23T22:00:07Z', '2026-11-23T22:00:07Z', 'another reason: another Event'],
      ['web-1', 'ClosureNotFound', 1, '2026-11-23T22:00:07Z', '2026-11-23T22:00:07Z', 'other pod'],
    ],
  );
});

test('repeats within the rate limit fold into one PATCH carrying their count', async (t) => {
  const { server, recorder } = await recorderFor(t, { minIntervalMs: 1000 });
  recorder.record(occurrence('NixRealiseFailed', 'try 1'));
  await recorder.drained();
  for (let i = 2; i <= 6; i++) recorder.record(occurrence('NixRealiseFailed', `try ${i}`));
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(server.seen.length, 1, 'nothing more before the interval has passed');
  await new Promise((resolve) => setTimeout(resolve, 1200));
  await recorder.drained();
  t.deepEqual(server.seen.map((r) => r.method), ['POST', 'PATCH']);
  t.deepEqual([server.seen[1]!.body.count, server.seen[1]!.body.message], [6, 'try 6']);
  t.is(server.list()[0].count, 6);
});

test('an Event gone from the API server (expired) is created again on the next repeat', async (t) => {
  const { server, recorder } = await recorderFor(t);
  recorder.record(occurrence('SourceDenied', 'once'));
  await recorder.drained();
  server.events.clear();
  recorder.record(occurrence('SourceDenied', 'twice'));
  await recorder.drained();
  t.deepEqual(server.seen.map((r) => [r.method, r.status]), [['POST', 201], ['PATCH', 404], ['POST', 201]]);
  t.deepEqual(server.list().map((e) => [e.count, e.message]), [[2, 'twice']]);
});

test('a failing API server is logged, never thrown; the token is read again for every call', async (t) => {
  const { server, recorder, log } = await recorderFor(t);
  server.failure = 'forbidden';
  recorder.record(occurrence('InvalidVolume', 'a'));
  await recorder.drained();
  server.failure = 'error-500';
  recorder.record(occurrence('SourceDenied', 'b'));
  await recorder.drained();
  t.deepEqual(server.seen.map((r) => r.status), [403, 500]);
  const failures = log.records.filter((record) => record.message === FAILED);
  t.deepEqual(
    failures.map((record) => [record.level, record.fields.reason, String((record.fields.err as Error).message)]),
    [
      ['warn', 'InvalidVolume', 'POST /api/v1/namespaces/shop/events: 403 events is forbidden: User "system:serviceaccount:nixmount:nixmount-node" cannot create resource "events"'],
      ['warn', 'SourceDenied', 'POST /api/v1/namespaces/shop/events: 500 etcdserver: request timed out'],
    ],
  );
  // kubelet rotated the token: the next call carries the new one (the old one is refused).
  server.failure = 'none';
  await writeFile(join(server.serviceAccountDir, 'token'), 'rotated');
  recorder.record(occurrence('ClosureNotFound', 'c'));
  await recorder.drained();
  t.is(server.seen.at(-1)!.status, 401, 'the server knows only the first token, so the rotated one is what was sent');
});

test('the queue is bounded: beyond maxQueued, occurrences are dropped and counted', async (t) => {
  const { server, recorder, log } = await recorderFor(t, { maxQueued: 3 });
  server.failure = 'hang';
  const pods = Array.from({ length: 10 }, (_, i) => ({ ...POD, name: `p-${i}`, uid: `u-${i}` }));
  for (const pod of pods) recorder.record(occurrence('VolumePublished', 'x', pod));
  // One call is running (hung), three wait; six were dropped.
  t.is(recorder.dropped, 6);
  t.is(log.records.filter((record) => record.message === 'Kubernetes Events: queue full; events dropped').length, 1);
  recorder.stop();
});

test('in-cluster config: a clear error outside a pod or without a mounted token', async (t) => {
  const dir = await tempDir(t);
  await t.throwsAsync(inClusterApiServer({}, dir), {
    message: 'KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: nixmount is not running in a pod',
  });
  await t.throwsAsync(inClusterApiServer({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, dir), {
    message: new RegExp(`^no service-account token in ${dir} \\(ENOENT.*\\); the pod needs automountServiceAccountToken: true \\(the events component of manifests/ sets it\\)$`),
  });
});
