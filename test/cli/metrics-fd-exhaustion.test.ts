import test from 'ava';
import { execa } from 'execa';
import { mkdir, readdir } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { pushSigned, signingKey, startBinaryCache } from '../helpers/binary-cache.js';
import { mountsBelow, unmountBelow } from '../helpers/mounts.js';
import { buildFixture } from '../helpers/nix.js';
import { freePort } from '../helpers/ports.js';
import { isAlive } from '../helpers/processes.js';
import { startServeProcess } from '../helpers/serve-process.js';
import { publishRequest, storeOf } from '../helpers/sources.js';
import { tempDir } from '../helpers/temp.js';

// Anyone who reaches the metrics port can open connections and send half a request.
// Each holds a file descriptor of the plugin; with the plugin's limit low (systemd's
// default 1,024), they must not take the descriptors a publish needs to start its
// children, and a child that cannot start must never end the plugin.

const IDLE_CONNECTIONS = 300;
const SPARE_DESCRIPTORS = 60;

const openDescriptors = async (pid: number) => (await readdir(`/proc/${pid}/fd`)).length;

function halfRequest(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
      socket.resume(); // reads the plugin's answer and its end, as a client would
      resolve(socket);
    });
    socket.on('error', () => resolve(socket)); // refused or reset by the plugin: that is its right
  });
}

test('idle half-requests on the metrics port, with a low descriptor limit: publishes of an uncached closure answer, serve lives, and recovers', async (t) => {
  const fixture = await buildFixture('-fd-exhaustion');
  const cache = await startBinaryCache(t);
  const key = await signingKey(t, 'nixmount-test-fd');
  await pushSigned(cache, key, [fixture.root]);
  const dir = await tempDir(t);
  const socket = join(dir, 'csi.sock');
  const port = await freePort();
  const pods = join(dir, 'pods');
  const serve = await startServeProcess([
    '--endpoint', `unix://${socket}`, '--state-dir', join(dir, 'state'), '--node-id', 'fd-node',
    '--store', `local?root=${join(dir, 'node')}`, '--substituters', cache.url, '--trusted-public-keys', key.publicKey,
    '--metrics-address', `127.0.0.1:${port}`,
  ], socket);
  const connections: Socket[] = [];
  t.teardown(async () => {
    for (const each of connections) each.destroy();
    serve.client.close();
    serve.child.kill('SIGKILL');
    await serve.child;
    await unmountBelow(pods);
  });
  const pid = serve.child.pid!;
  const limit = (await openDescriptors(pid)) + SPARE_DESCRIPTORS;
  await execa('prlimit', ['--pid', String(pid), `--nofile=${limit}:${limit}`]);

  for (let i = 0; i < IDLE_CONNECTIONS; i++) connections.push(await halfRequest(port));
  await new Promise((resolve) => setTimeout(resolve, 500)); // accepted (or refused) by now
  t.true(await isAlive(pid));

  await mkdir(join(pods, 'a'), { recursive: true });
  const first = await serve.client.code('node', 'NodePublishVolume', publishRequest('vol-a', join(pods, 'a/mount'), { paths: fixture.root }));
  t.true(await isAlive(pid), 'serve still runs');
  t.true(first.code === status.OK || first.code === status.RESOURCE_EXHAUSTED, `${first.code}: ${first.details}`);

  // The connections go; the next publish (and a retry of the first) works.
  for (const each of connections) each.destroy();
  await new Promise((resolve) => setTimeout(resolve, 200));
  await serve.client.call('node', 'NodePublishVolume', publishRequest('vol-a', join(pods, 'a/mount'), { paths: fixture.root }));
  await mkdir(join(pods, 'b'), { recursive: true });
  await serve.client.call('node', 'NodePublishVolume', publishRequest('vol-b', join(pods, 'b/mount'), { paths: fixture.root }));
  t.deepEqual(await storeOf(join(pods, 'b/mount')), fixture.closure);
  for (const volume of ['a', 'b']) await serve.client.call('node', 'NodeUnpublishVolume', { volume_id: `vol-${volume}`, target_path: join(pods, volume, 'mount') });
  t.deepEqual(await mountsBelow(pods), []);
  t.true(await isAlive(pid));
});

test('the metrics port closes a half-sent request within seconds, and keeps at most a few connections', async (t) => {
  const dir = await tempDir(t);
  const socket = join(dir, 'csi.sock');
  const port = await freePort();
  const serve = await startServeProcess(['--endpoint', `unix://${socket}`, '--state-dir', join(dir, 'state'), '--substituters', '', '--metrics-address', `127.0.0.1:${port}`], socket);
  const connections: Socket[] = [];
  t.teardown(async () => {
    for (const each of connections) each.destroy();
    serve.client.close();
    serve.child.kill('SIGKILL');
    await serve.child;
  });
  const before = await openDescriptors(serve.child.pid!);
  for (let i = 0; i < 100; i++) connections.push(await halfRequest(port));
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.true((await openDescriptors(serve.child.pid!)) - before <= 20, 'a cap on connections, each a descriptor');
  // Closed by the plugin, not by us: its header timeout is seconds, not Node's minute.
  const closed = await Promise.race([
    Promise.all(connections.map((each) => (each.closed ? Promise.resolve() : new Promise<void>((resolve) => each.once('close', () => resolve()))))).then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000)),
  ]);
  t.true(closed, `every half-sent request was closed by the plugin within 30 s (${connections.filter((each) => !each.closed).length} open)`);
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  t.is(response.status, 200);
  await response.text();
});
