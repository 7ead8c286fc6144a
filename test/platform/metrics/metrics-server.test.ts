import test from 'ava';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Counter, Registry } from 'prom-client';
import { registerNodeGauges, type NodeReadings } from '../../../src/platform/metrics/node-gauges.js';
import { MetricsServer } from '../../../src/platform/metrics/metrics-server.js';
import { parseExposition, sample, seriesOf } from '../../helpers/prometheus.js';
import { RecordingLogger } from '../../helpers/recording-logger.js';
import { tempDir } from '../../helpers/temp.js';

// The HTTP endpoint on loopback, and the gauges read from the node at each scrape.

async function serve(t: import('ava').ExecutionContext, registry: Registry, log = new RecordingLogger()) {
  const server = await MetricsServer.start(registry, { host: '127.0.0.1', port: 0 }, log);
  t.teardown(() => server.stop());
  return server;
}

test('GET /metrics answers the text format; HEAD has no body; other paths 404; other methods 405', async (t) => {
  const registry = new Registry();
  new Counter({ name: 'demo_total', help: 'a demo', registers: [registry] }).inc(3);
  const server = await serve(t, registry);
  t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const response = await fetch(server.url);
  t.is(response.status, 200);
  t.is(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  t.is(await response.text(), '# HELP demo_total a demo\n# TYPE demo_total counter\ndemo_total 3\n');
  const head = await fetch(server.url, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(await head.text(), '');
  t.is((await fetch(server.url.replace('/metrics', '/'))).status, 404);
  t.is((await fetch(`${server.url}?x=1`)).status, 200);
  t.is((await fetch(server.url, { method: 'POST' })).status, 405);
});

test('a port in use is an error naming the flag and the address', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const port = (taken.address() as import('node:net').AddressInfo).port;
  await t.throwsAsync(MetricsServer.start(new Registry(), { host: '127.0.0.1', port }, new RecordingLogger()), {
    message: new RegExp(`^--metrics-address 127\\.0\\.0\\.1:${port}: cannot listen \\(listen EADDRINUSE`),
  });
});

test('node gauges read the node at each scrape: volumes by mode, staged, views by state, realisations by phase, the store filesystem', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'nix/store'), { recursive: true });
  const node = {
    volumes: [{ readonly: true }, { readonly: true }, { readonly: false }],
    staged: 1,
    views: [{ inUse: true }, { inUse: false }, { inUse: false }] as Array<{ inUse: boolean }> | Error,
    phases: ['realising', 'realising', 'evaluating'],
  };
  const readings: NodeReadings = {
    orchestrator: 'nomad',
    volumes: () => node.volumes,
    stagedVolumes: () => node.staged,
    views: async () => {
      if (node.views instanceof Error) throw node.views;
      return node.views;
    },
    realisationPhases: () => node.phases,
    storeDir: join(dir, 'nix/store'),
  };
  const registry = new Registry();
  const log = new RecordingLogger();
  registerNodeGauges(registry, readings, log);
  const server = await serve(t, registry, log);
  const scrape = async () => parseExposition(await (await fetch(server.url)).text());

  let s = await scrape();
  t.deepEqual(seriesOf(s, 'nixmount_volumes'), { 'nixmount_volumes{mode="read_only",orchestrator="nomad"}': 2, 'nixmount_volumes{mode="read_write",orchestrator="nomad"}': 1 });
  t.is(sample(s, 'nixmount_staged_volumes', { orchestrator: 'nomad' }), 1);
  t.deepEqual(seriesOf(s, 'nixmount_views'), { 'nixmount_views{orchestrator="nomad",state="in_use"}': 1, 'nixmount_views{orchestrator="nomad",state="idle"}': 2 });
  t.deepEqual(seriesOf(s, 'nixmount_realisations_in_flight'), {
    'nixmount_realisations_in_flight{phase="evaluating"}': 1,
    'nixmount_realisations_in_flight{phase="checking"}': 0,
    'nixmount_realisations_in_flight{phase="realising"}': 2,
    'nixmount_realisations_in_flight{phase="pushing"}': 0,
  });
  const fs = await import('node:fs/promises').then((m) => m.statfs(join(dir, 'nix/store')));
  t.is(sample(s, 'nixmount_store_filesystem_size_bytes'), fs.blocks * fs.bsize);
  t.true(sample(s, 'nixmount_store_filesystem_free_bytes') >= sample(s, 'nixmount_store_filesystem_avail_bytes'));
  t.true(sample(s, 'nixmount_store_filesystem_avail_bytes') > 0);

  // The next scrape says what is true then, not what was counted: volumes gone to 0 stay listed.
  node.volumes = [];
  node.staged = 0;
  node.views = [];
  node.phases = [];
  s = await scrape();
  t.deepEqual(seriesOf(s, 'nixmount_volumes'), { 'nixmount_volumes{mode="read_only",orchestrator="nomad"}': 0, 'nixmount_volumes{mode="read_write",orchestrator="nomad"}': 0 });
  t.deepEqual(seriesOf(s, 'nixmount_views'), { 'nixmount_views{orchestrator="nomad",state="in_use"}': 0, 'nixmount_views{orchestrator="nomad",state="idle"}': 0 });
  t.is(sample(s, 'nixmount_realisations_in_flight', { phase: 'realising' }), 0);

  // Views that cannot be listed leave their gauge out of the scrape, which still answers.
  node.views = new Error('EACCES: views');
  s = await scrape();
  t.deepEqual(seriesOf(s, 'nixmount_views'), {});
  t.is(sample(s, 'nixmount_staged_volumes', { orchestrator: 'nomad' }), 0);
  t.is(log.count('metrics: listing the views failed'), 1);
});
