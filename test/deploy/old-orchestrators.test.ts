import test from 'ava';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { connect, constants } from 'node:http2';
import { connect as connectSocket } from 'node:net';
import { join } from 'node:path';
import { REFUSED_STREAM_MESSAGE, watchRefusedStreams } from '../../src/csi/refused-streams.js';
import { startTestPlugin } from '../helpers/plugin.js';
import { RecordingLogger } from '../helpers/recording-logger.js';
import { tempDir } from '../helpers/temp.js';

// kubelet before Kubernetes 1.26 and Nomad before 1.3 send the socket's path as the HTTP/2
// :authority (docs/deployment.md). Node refuses those streams natively; the plugin
// cannot accept them, so it must say why in its log.
const OLD_KUBELET_AUTHORITY = '/var/lib/kubelet/plugins/nixmount.test/csi.sock';
const EMPTY_PROBE = Buffer.alloc(5); // gRPC frame: not compressed, length 0 (an empty ProbeRequest)

async function curlProbe(socket: string, host: string, dir: string) {
  const body = join(dir, 'probe.bin');
  await writeFile(body, EMPTY_PROBE);
  return execa(
    'curl',
    ['-sS', '--http2-prior-knowledge', '--unix-socket', socket, '-H', `Host: ${host}`, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '--data-binary', `@${body}`, '-D', '-', '-o', '/dev/null', 'http://x/csi.v1.Identity/Probe'],
    { reject: false },
  );
}

async function until(condition: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (condition()) return true;
  return condition();
}

test('a kubelet older than 1.26 (socket path as :authority, replayed with curl): the stream is refused and the log names the cause and the minimum versions', async (t) => {
  const logger = new RecordingLogger();
  const node = await startTestPlugin(t, { logger });
  const refused = () => logger.records.filter((r) => r.message === REFUSED_STREAM_MESSAGE);

  const old = await curlProbe(node.socketPath, OLD_KUBELET_AUTHORITY, node.dir);
  t.is(old.exitCode, 92, old.stderr); // curl: HTTP/2 stream error
  t.regex(old.stderr, /PROTOCOL_ERROR/);
  t.true(await until(() => refused().length === 1), 'one error record for the refused connection');
  t.is(refused()[0].level, 'error');
  t.regex(refused()[0].message, /Kubernetes >= 1\.26 or Nomad >= 1\.3/);
  t.is(refused()[0].fields.streamId, 1);
  t.is(refused()[0].fields.callsHandled, 0);

  // A current kubelet sends `localhost`: answered, and nothing more is logged.
  const current = await curlProbe(node.socketPath, 'localhost', node.dir);
  t.is(current.exitCode, 0, current.stderr);
  t.regex(current.stdout, /^HTTP\/2 200/);
  t.regex(current.stdout, /grpc-status: 0/);
  await new Promise((r) => setTimeout(r, 200));
  t.is(refused().length, 1);
});

test('a Nomad older than 1.3 keeps its connection open and retries: reported once, from the timer, while the connection lives', async (t) => {
  const dir = await tempDir(t);
  const socket = join(dir, 'csi.sock');
  const server = new Server();
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  t.teardown(() => server.forceShutdown());
  const logger = new RecordingLogger();
  let reports = 0;
  watchRefusedStreams(server, logger, { intervalMs: 50, onRefused: () => reports++ });

  const session = connect('http://localhost', { createConnection: () => connectSocket(socket) });
  t.teardown(() => session.destroy());
  const codes: number[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const stream = session.request({ ':method': 'POST', ':path': '/csi.v1.Identity/Probe', ':authority': '/csi/csi.sock', 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('error', () => undefined); // the refusal, read from rstCode below
    stream.end(EMPTY_PROBE);
    stream.resume();
    codes.push(await new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode ?? -1))));
  }
  t.deepEqual(codes, [constants.NGHTTP2_PROTOCOL_ERROR, constants.NGHTTP2_PROTOCOL_ERROR, constants.NGHTTP2_PROTOCOL_ERROR]);
  t.false(session.closed);
  t.true(await until(() => logger.count(REFUSED_STREAM_MESSAGE) === 1), 'reported while the connection stays open');
  await new Promise((r) => setTimeout(r, 300));
  t.is(logger.count(REFUSED_STREAM_MESSAGE), 1, 'once per connection, not once per retry');
  t.is(reports, 1, 'reported to the listener (the Kubernetes Event on the node) as often as logged');
});
