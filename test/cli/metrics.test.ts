import test, { type ExecutionContext } from 'ava';
import { access, mkdir } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { pushSigned, signingKey, startBinaryCache } from '../helpers/binary-cache.js';
import { mountsBelow } from '../helpers/mounts.js';
import { buildFixture } from '../helpers/nix.js';
import { freePort } from '../helpers/ports.js';
import { parseExposition, sample, seriesOf, type Samples } from '../helpers/prometheus.js';
import { nixmount, startServeProcess } from '../helpers/serve-process.js';
import { publishRequest } from '../helpers/sources.js';
import { tempDir } from '../helpers/temp.js';

// A real `nixmount serve --metrics-address`, scraped over loopback HTTP after known
// operations: a node with its own (chroot) store substitutes the fixture from a signed
// loopback cache, publishes it at two targets, restarts, fails one publish, unpublishes.

async function scrape(port: number): Promise<Samples> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return parseExposition(await response.text());
}

const rpcCount = (s: Samples, method: string, code = 'OK') => sample(s, 'nixmount_rpc_duration_seconds_count', { method, code });

test('a real plugin\'s /metrics after two publishes of one closure, a restart, a failed publish and two unpublishes', async (t: ExecutionContext) => {
  const fixture = await buildFixture('-metrics');
  const cache = await startBinaryCache(t);
  const key = await signingKey(t, 'nixmount-test-metrics');
  await pushSigned(cache, key, [fixture.root]);
  const dir = await tempDir(t);
  const storeRoot = join(dir, 'node');
  const socket = join(dir, 'csi.sock');
  const port = await freePort();
  const args = [
    '--endpoint', `unix://${socket}`, '--state-dir', join(dir, 'state'), '--node-id', 'metrics-node',
    '--store', `local?root=${storeRoot}`, '--substituters', cache.url, '--trusted-public-keys', key.publicKey,
    '--view-idle', '0', '--metrics-address', `127.0.0.1:${port}`,
  ];
  const start = async () => {
    const plugin = await startServeProcess(args, socket);
    t.teardown(() => {
      plugin.client.close();
      plugin.child.kill('SIGKILL');
    });
    return plugin;
  };
  const stop = async (plugin: Awaited<ReturnType<typeof start>>) => {
    plugin.client.close();
    plugin.child.kill('SIGTERM');
    t.is((await plugin.child).exitCode, 0);
  };

  let plugin = await start();
  await mkdir(join(dir, 'pods/a'), { recursive: true });
  await mkdir(join(dir, 'pods/b'), { recursive: true });
  const [a, b] = [join(dir, 'pods/a/mount'), join(dir, 'pods/b/mount')];
  await plugin.client.call('node', 'NodePublishVolume', publishRequest('vol-a', a, { paths: fixture.root }));
  await plugin.client.call('node', 'NodePublishVolume', publishRequest('vol-b', b, { paths: fixture.root }));
  let s = await scrape(port);
  t.is(rpcCount(s, 'NodePublishVolume'), 2);
  t.true(rpcCount(s, 'Probe') >= 1, 'the readiness probes of the start');
  t.deepEqual(seriesOf(s, 'nixmount_volumes'), {
    'nixmount_volumes{mode="read_only",orchestrator="local"}': 2,
    'nixmount_volumes{mode="read_write",orchestrator="local"}': 0,
  });
  t.deepEqual(seriesOf(s, 'nixmount_views'), { 'nixmount_views{orchestrator="local",state="in_use"}': 1, 'nixmount_views{orchestrator="local",state="idle"}': 0 });
  t.deepEqual(seriesOf(s, 'nixmount_view_cache_total'), { 'nixmount_view_cache_total{result="hit"}': 1, 'nixmount_view_cache_total{result="build"}': 1 });
  t.is(sample(s, 'nixmount_view_build_duration_seconds_count'), 1);
  t.is(sample(s, 'nixmount_publish_duration_seconds_count', { mode: 'read_only' }), 2);
  for (const phase of ['realise', 'view', 'mount']) t.is(sample(s, 'nixmount_publish_phase_seconds_count', { phase }), 2, phase);
  // The first publish substituted the whole closure (three paths) from the cache; the second found it valid.
  t.is(sample(s, 'nixmount_realise_duration_seconds_count', { result: 'ok' }), 1);
  t.deepEqual(seriesOf(s, 'nixmount_realised_paths_total'), {
    'nixmount_realised_paths_total{how="fetched"}': fixture.closure.length,
    'nixmount_realised_paths_total{how="built"}': 0,
  });
  t.is(fixture.closure.length, 3);
  t.is(sample(s, 'nixmount_realisations_in_flight', { phase: 'realising' }), 0);
  t.deepEqual(seriesOf(s, 'nixmount_build_info'), { 'nixmount_build_info{driver="nixmount.csi.nixos.dev",mode="node",orchestrator="local",version="0.1.0"}': 1 });
  t.true(sample(s, 'nixmount_store_filesystem_size_bytes') > 0);
  t.true(sample(s, 'process_resident_memory_bytes') > 0, 'process metrics');

  // After a restart the counters start again, and the gauges still say what the node holds.
  await stop(plugin);
  plugin = await start();
  s = await scrape(port);
  t.is(sample(s, 'nixmount_volumes', { orchestrator: 'local', mode: 'read_only' }), 2);
  t.is(sample(s, 'nixmount_views', { orchestrator: 'local', state: 'in_use' }), 1);
  t.is(sample(s, 'nixmount_view_cache_total', { result: 'build' }), 0);
  t.throws(() => rpcCount(s, 'NodePublishVolume'), { message: /no series/ });

  // A path no cache has: the realisation fails, and so does the publish.
  const missing = '/nix/store/00000000000000000000000000000000-nixmount-metrics-missing';
  const failed = await plugin.client.code('node', 'NodePublishVolume', publishRequest('vol-c', join(dir, 'pods/c'), { paths: missing }));
  t.is(failed.code, status.FAILED_PRECONDITION, failed.details);
  await plugin.client.call('node', 'NodeUnpublishVolume', { volume_id: 'vol-a', target_path: a });
  await plugin.client.call('node', 'NodeUnpublishVolume', { volume_id: 'vol-b', target_path: b });
  s = await scrape(port);
  t.is(rpcCount(s, 'NodePublishVolume', 'FAILED_PRECONDITION'), 1);
  t.is(rpcCount(s, 'NodeUnpublishVolume'), 2);
  t.deepEqual(seriesOf(s, 'nixmount_publish_failures_total'), { 'nixmount_publish_failures_total{reason="FailedPrecondition"}': 1 });
  t.deepEqual(seriesOf(s, 'nixmount_realise_failures_total'), { 'nixmount_realise_failures_total{reason="FailedPrecondition"}': 1 });
  t.is(sample(s, 'nixmount_realise_duration_seconds_count', { result: 'failed' }), 1);
  t.is(sample(s, 'nixmount_unpublish_duration_seconds_count'), 2);
  // --view-idle 0: the view went with its last volume.
  t.is(sample(s, 'nixmount_views_removed_total'), 1);
  t.deepEqual(seriesOf(s, 'nixmount_volumes'), {
    'nixmount_volumes{mode="read_only",orchestrator="local"}': 0,
    'nixmount_volumes{mode="read_write",orchestrator="local"}': 0,
  });
  t.deepEqual(seriesOf(s, 'nixmount_views'), { 'nixmount_views{orchestrator="local",state="in_use"}': 0, 'nixmount_views{orchestrator="local",state="idle"}': 0 });
  t.deepEqual(await mountsBelow(join(dir, 'pods')), []);

  await stop(plugin);
  await t.throwsAsync(scrape(port), undefined, 'the metrics port closes with the plugin');
});

test('without --metrics-address there is no metrics server: prom-client is never even loaded', async (t) => {
  const dir = await tempDir(t);
  const socket = join(dir, 'csi.sock');
  const { child, client } = await startServeProcess(['--endpoint', `unix://${socket}`, '--state-dir', join(dir, 'state'), '--substituters', ''], socket, {
    env: { NODE_DEBUG: 'module' },
  });
  client.close();
  child.kill('SIGTERM');
  const result = await child;
  t.is(result.exitCode, 0);
  t.notRegex(String(result.stderr), /prom-client/);
  t.regex(String(result.stderr), /@grpc\/grpc-js/, 'NODE_DEBUG=module does list the modules loaded');
});

test('a metrics port already taken stops serve at start (exit 1, the flag named), before its socket exists', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const { port } = taken.address() as AddressInfo;
  const dir = await tempDir(t);
  const socket = join(dir, 'csi.sock');
  const result = await nixmount(['serve', '--endpoint', `unix://${socket}`, '--state-dir', join(dir, 'state'), '--substituters', '', '--metrics-address', `127.0.0.1:${port}`]);
  t.is(result.exitCode, 1);
  t.regex(result.stderr, new RegExp(`--metrics-address 127\\.0\\.0\\.1:${port}: cannot listen \\(listen EADDRINUSE`));
  t.false(await access(socket).then(() => true, () => false), 'no socket: the orchestrator never saw a plugin without its metrics');
});
