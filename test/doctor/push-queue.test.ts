import test, { type ExecutionContext } from 'ava';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { metricsUrl, pushQueueResult } from '../../src/doctor/push-queue.js';
import { eventMetrics } from '../../src/platform/metrics/event-metrics.js';
import { NodeMetrics } from '../../src/platform/metrics/node-metrics.js';
import { closedPort } from '../helpers/binary-cache.js';

// The push queue as doctor reads it from serve's /metrics: the metrics are nixmount's own
// (NodeMetrics fed the events CachePusher emits), served over real HTTP on loopback.

const CACHE = 'http://cache:8080';

/** serve's /metrics on 127.0.0.1, after `rounds` of cache-push events; its --metrics-address. */
async function metricsAfter(t: ExecutionContext, rounds: Array<{ ok: boolean; waiting: number }>): Promise<string> {
  const registry = new Registry();
  const listener = eventMetrics(new NodeMetrics(registry));
  for (const round of rounds) listener({ kind: 'cache-push', ok: round.ok, paths: 4, waiting: round.waiting, seconds: 1 });
  const server = createServer((_request, response) => {
    void registry.metrics().then((text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('where serve\'s metrics are reached from: its own host, loopback when it listens on every interface', (t) => {
  t.is(metricsUrl(':9810'), 'http://127.0.0.1:9810/metrics');
  t.is(metricsUrl('0.0.0.0:9810'), 'http://127.0.0.1:9810/metrics');
  t.is(metricsUrl('10.0.0.7:9810'), 'http://10.0.0.7:9810/metrics');
  t.is(metricsUrl('[::1]:9810'), 'http://[::1]:9810/metrics');
});

test('no --push-to, or no known metrics address: no line', async (t) => {
  t.is(await pushQueueResult({ metricsAddress: ':9810', timeoutMs: 1000 }), undefined);
  t.is(await pushQueueResult({ pushTo: CACHE, timeoutMs: 1000 }), undefined);
});

test('an empty queue is ok; paths left after failed rounds are an info line with the rounds counted', async (t) => {
  const quiet = await metricsAfter(t, []);
  t.deepEqual(await pushQueueResult({ pushTo: CACHE, metricsAddress: quiet, timeoutMs: 2000 }), {
    check: 'push-queue', status: 'ok', message: `nothing waits for ${CACHE} (rounds so far: 0 pushed, 0 failed)`, fix: null,
  });
  const drained = await metricsAfter(t, [{ ok: false, waiting: 4 }, { ok: true, waiting: 0 }]);
  t.is((await pushQueueResult({ pushTo: CACHE, metricsAddress: drained, timeoutMs: 2000 }))!.message, `nothing waits for ${CACHE} (rounds so far: 1 pushed, 1 failed)`);
  const down = await metricsAfter(t, [{ ok: true, waiting: 0 }, { ok: false, waiting: 7 }, { ok: false, waiting: 7 }]);
  t.deepEqual(await pushQueueResult({ pushTo: CACHE, metricsAddress: down, timeoutMs: 2000 }), {
    check: 'push-queue',
    status: 'info',
    message: `7 realised paths wait for ${CACHE} after the last round (rounds so far: 1 pushed, 2 failed)`,
    fix: 'a failed round is retried a minute later; if the number stays, the cache is down or refuses PUT: see the push-cache line and serve\'s warnings',
  });
});

test('metrics that do not answer: an info line, bounded', async (t) => {
  const port = await closedPort();
  const result = await pushQueueResult({ pushTo: CACHE, metricsAddress: `127.0.0.1:${port}`, timeoutMs: 1000 });
  t.is(result!.status, 'info');
  t.is(result!.message, `serve's metrics at http://127.0.0.1:${port}/metrics do not answer (ECONNREFUSED): its push queue is not known`);
});
