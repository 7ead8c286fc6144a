import test from 'ava';
import { Registry } from 'prom-client';
import { NodeEventHub } from '../../../src/core/node-event-hub.js';
import { eventMetrics } from '../../../src/platform/metrics/event-metrics.js';
import { NodeMetrics } from '../../../src/platform/metrics/node-metrics.js';
import { parseExposition, sample, seriesOf } from '../../helpers/prometheus.js';
import { RecordingLogger } from '../../helpers/recording-logger.js';

// The listener on the core's NodeEvents hub: each event kind lands in its metrics, exactly.

function setup() {
  const registry = new Registry();
  const hub = new NodeEventHub(new RecordingLogger());
  const unsubscribe = hub.subscribe(eventMetrics(new NodeMetrics(registry), () => 1_700_000_000_500));
  return { hub, unsubscribe, scrape: async () => parseExposition(await registry.metrics()) };
}

test('rpc events: a histogram by method and code whose _count is the number of calls and _sum their seconds', async (t) => {
  const { hub, scrape } = setup();
  hub.emit({ kind: 'rpc', method: 'NodePublishVolume', code: 'OK', seconds: 0.02 });
  hub.emit({ kind: 'rpc', method: 'NodePublishVolume', code: 'OK', seconds: 3 });
  hub.emit({ kind: 'rpc', method: 'NodePublishVolume', code: 'FAILED_PRECONDITION', seconds: 0.5 });
  const s = await scrape();
  const ok = { method: 'NodePublishVolume', code: 'OK' };
  t.is(sample(s, 'nixmount_rpc_duration_seconds_count', ok), 2);
  t.is(sample(s, 'nixmount_rpc_duration_seconds_sum', ok), 3.02);
  t.is(sample(s, 'nixmount_rpc_duration_seconds_bucket', { ...ok, le: '0.025' }), 1);
  t.is(sample(s, 'nixmount_rpc_duration_seconds_bucket', { ...ok, le: '2.5' }), 1);
  t.is(sample(s, 'nixmount_rpc_duration_seconds_bucket', { ...ok, le: '5' }), 2);
  t.is(sample(s, 'nixmount_rpc_duration_seconds_count', { method: 'NodePublishVolume', code: 'FAILED_PRECONDITION' }), 1);
});

test('publishes: duration by mode, each phase, view cache hit or build; failures by reason; unpublishes', async (t) => {
  const { hub, scrape } = setup();
  const finished = { kind: 'publish-finished', workload: {}, volumeId: 'v', targetPath: '/t', paths: 3, seconds: 1.5 } as const;
  hub.emit({ ...finished, readonly: true, viewReused: false, phases: { realise: 1, view: 0.4, mount: 0.1 } });
  hub.emit({ ...finished, readonly: false, viewReused: true, phases: { realise: 0.01, view: 0, mount: 0.02 } });
  hub.emit({ ...finished, readonly: true, viewReused: true, phases: { realise: 0.01, view: 0, mount: 0.02 } });
  hub.emit({ kind: 'publish-failed', workload: {}, volumeId: 'v', reason: 'FailedPrecondition', message: 'm', seconds: 1 });
  hub.emit({ kind: 'unpublish-finished', volumeId: 'v', wasPublished: true, seconds: 0.03 });
  const s = await scrape();
  t.deepEqual(seriesOf(s, 'nixmount_publish_duration_seconds_count'), {
    'nixmount_publish_duration_seconds_count{mode="read_only"}': 2,
    'nixmount_publish_duration_seconds_count{mode="read_write"}': 1,
  });
  t.is(sample(s, 'nixmount_publish_phase_seconds_sum', { phase: 'realise' }), 1.02);
  t.is(sample(s, 'nixmount_publish_phase_seconds_sum', { phase: 'view' }), 0.4);
  t.is(sample(s, 'nixmount_publish_phase_seconds_count', { phase: 'mount' }), 3);
  t.deepEqual(seriesOf(s, 'nixmount_view_cache_total'), { 'nixmount_view_cache_total{result="hit"}': 2, 'nixmount_view_cache_total{result="build"}': 1 });
  t.deepEqual(seriesOf(s, 'nixmount_publish_failures_total'), { 'nixmount_publish_failures_total{reason="FailedPrecondition"}': 1 });
  t.is(sample(s, 'nixmount_unpublish_duration_seconds_count'), 1);
});

test('realisations: duration by result, failures by reason, paths fetched and built, bytes announced', async (t) => {
  const { hub, scrape } = setup();
  hub.emit({ kind: 'realise-finished', ok: true, fetched: 3, built: 0, downloadMiB: 1.5, seconds: 2 });
  hub.emit({ kind: 'realise-finished', ok: false, reason: 'PermissionDenied', fetched: 1, built: 2, downloadMiB: 0, seconds: 1 });
  const s = await scrape();
  t.is(sample(s, 'nixmount_realise_duration_seconds_count', { result: 'ok' }), 1);
  t.is(sample(s, 'nixmount_realise_duration_seconds_count', { result: 'failed' }), 1);
  t.deepEqual(seriesOf(s, 'nixmount_realise_failures_total'), { 'nixmount_realise_failures_total{reason="PermissionDenied"}': 1 });
  t.is(sample(s, 'nixmount_realised_paths_total', { how: 'fetched' }), 4);
  t.is(sample(s, 'nixmount_realised_paths_total', { how: 'built' }), 2);
  t.is(sample(s, 'nixmount_realise_download_bytes_total'), 1_572_864);
});

test('views built and removed; store GC runs by outcome and trigger, bytes freed, last success only on ok', async (t) => {
  const { hub, scrape } = setup();
  t.is(sample(await scrape(), 'nixmount_store_gc_last_success_timestamp_seconds'), 0);
  hub.emit({ kind: 'view-built', viewKey: 'k', paths: 3, seconds: 0.3 });
  hub.emit({ kind: 'view-removed', viewKey: 'k' });
  hub.emit({ kind: 'view-removed', viewKey: 'j' });
  hub.emit({ kind: 'store-gc', outcome: 'timeout', bytesFreed: 100, seconds: 60, trigger: 'periodic' });
  t.is(sample(await scrape(), 'nixmount_store_gc_last_success_timestamp_seconds'), 0, 'a timed-out GC is no success');
  hub.emit({ kind: 'store-gc', outcome: 'ok', bytesFreed: 4096, seconds: 2, trigger: 'realise' });
  const s = await scrape();
  t.is(sample(s, 'nixmount_view_build_duration_seconds_count'), 1);
  t.is(sample(s, 'nixmount_view_build_duration_seconds_sum'), 0.3);
  t.is(sample(s, 'nixmount_views_removed_total'), 2);
  t.deepEqual(seriesOf(s, 'nixmount_store_gc_runs_total'), {
    'nixmount_store_gc_runs_total{outcome="timeout",trigger="periodic"}': 1,
    'nixmount_store_gc_runs_total{outcome="ok",trigger="realise"}': 1,
  });
  t.is(sample(s, 'nixmount_store_gc_freed_bytes_total'), 4196);
  t.is(sample(s, 'nixmount_store_gc_duration_seconds_count', { outcome: 'ok' }), 1);
  t.is(sample(s, 'nixmount_store_gc_last_success_timestamp_seconds'), 1_700_000_000.5);
});

test('view presentations by presentation and reason (fallbacks included); the budget left at the last read-only publish', async (t) => {
  const { hub, scrape } = setup();
  hub.emit({ kind: 'view-presentation', presentation: 'bind-farm', reason: 'fits-budget', mountsNeeded: 8, mountsAvailable: 900 });
  hub.emit({ kind: 'view-presentation', presentation: 'hardlink', reason: 'over-budget', mountsNeeded: 8, mountsAvailable: 3 });
  hub.emit({ kind: 'view-presentation', presentation: 'hardlink', reason: 'read-write' });
  const s = await scrape();
  t.deepEqual(seriesOf(s, 'nixmount_view_presentations_total'), {
    'nixmount_view_presentations_total{presentation="bind_farm",reason="fits_budget"}': 1,
    'nixmount_view_presentations_total{presentation="hardlink",reason="over_budget"}': 1,
    'nixmount_view_presentations_total{presentation="hardlink",reason="read_write"}': 1,
  });
  t.is(sample(s, 'nixmount_mount_budget_available'), 3);
});

test('realise-progress changes nothing, and after unsubscribing no event counts', async (t) => {
  const { hub, unsubscribe, scrape } = setup();
  const before = await scrape();
  hub.emit({ kind: 'realise-progress', workload: {}, volumeId: 'v', targetPath: '/t', summary: 'realising', seconds: 5 });
  t.deepEqual(await scrape(), before);
  unsubscribe();
  hub.emit({ kind: 'view-removed', viewKey: 'k' });
  t.is(sample(await scrape(), 'nixmount_views_removed_total'), 0);
});
