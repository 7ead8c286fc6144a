import test from 'ava';
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inClusterApiServer } from '../../../../src/adapters/kubernetes/api/in-cluster.js';
import { EventsApi } from '../../../../src/adapters/kubernetes/events/events-api.js';
import { startKubernetesEvents } from '../../../../src/adapters/kubernetes/events/kubernetes-events.js';
import { FakeApiServer } from '../../../helpers/fake-api-server.js';
import { startTestPlugin } from '../../../helpers/plugin.js';
import { RecordingLogger } from '../../../helpers/recording-logger.js';

// A kubelet older than 1.26 never reaches a handler (its :authority is the socket's path),
// so no pod Event can say why its mounts hang; the Node's Events do, once per connection
// refused, folded into one Event by the recorder.
const OLD_KUBELET_AUTHORITY = '/var/lib/kubelet/plugins/nixmount.test/csi.sock';

async function oldKubeletProbe(socket: string, dir: string) {
  const body = join(dir, 'probe.bin');
  await writeFile(body, Buffer.alloc(5)); // an empty ProbeRequest in its gRPC frame
  return execa(
    'curl',
    ['-sS', '--http2-prior-knowledge', '--unix-socket', socket, '-H', `Host: ${OLD_KUBELET_AUTHORITY}`, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '--data-binary', `@${body}`, '-o', '/dev/null', 'http://x/csi.v1.Identity/Probe'],
    { reject: false },
  );
}

async function until(condition: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (condition()) return true;
  return condition();
}

test('calls refused from a kubelet older than 1.26 become one Warning Event on the Node, in `default`, counted per refused connection', async (t) => {
  const node = await startTestPlugin(t, { logger: new RecordingLogger() });
  const api = await FakeApiServer.start(t);
  const events = await startKubernetesEvents(node.plugin.services.events, {
    nodeName: 'worker-1',
    log: new RecordingLogger(),
    sink: new EventsApi(await inClusterApiServer(api.env, api.serviceAccountDir)),
    recorder: { minIntervalMs: 0 },
  });
  t.teardown(() => events?.stop());

  t.is((await oldKubeletProbe(node.socketPath, node.dir)).exitCode, 92); // curl: HTTP/2 stream error
  t.true(await until(() => api.list().length === 1), 'an Event after the first refused connection');
  t.deepEqual(api.refusals(), []);
  const [event] = api.list();
  t.like(event, {
    metadata: { namespace: 'default' },
    involvedObject: { apiVersion: 'v1', kind: 'Node', name: 'worker-1', uid: 'worker-1' },
    type: 'Warning',
    reason: 'CsiCallsRefused',
    source: { component: 'nixmount', host: 'worker-1' },
    count: 1,
  });
  t.is(event.involvedObject.namespace, undefined);
  t.regex(event.message, /kubelet before Kubernetes 1\.26/);
  t.regex(event.message, /Fix: upgrade kubelet on this node to 1\.26 or later\.$/);

  t.is((await oldKubeletProbe(node.socketPath, node.dir)).exitCode, 92);
  t.true(await until(() => api.list()[0]?.count === 2), 'the second refused connection counts on the same Event');
  t.is(api.list().length, 1);
  t.deepEqual(api.seen.map((request) => request.method), ['POST', 'PATCH']);
});
