import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** CSI calls and publishes: a warm publish takes milliseconds, kubelet gives up after two minutes. */
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Realisations, view builds and store GC: seconds to the better part of an hour. */
const WORK_BUCKETS = [0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * The metrics nixmount updates as things happen (from NodeEvents). Names and units
 * follow Prometheus' conventions; docs/operations.md "Metrics" lists them all. The
 * gauges read at scrape time are in node-gauges.ts.
 */
export class NodeMetrics {
  readonly rpcDuration: Histogram<'method' | 'code'>;
  readonly publishDuration: Histogram<'mode'>;
  readonly publishPhase: Histogram<'phase'>;
  readonly publishFailures: Counter<'reason'>;
  readonly viewCache: Counter<'result'>;
  readonly unpublishDuration: Histogram;
  readonly viewBuildDuration: Histogram;
  readonly viewsRemoved: Counter;
  readonly viewPresentations: Counter<'presentation' | 'reason'>;
  readonly mountBudgetAvailable: Gauge;
  readonly realiseDuration: Histogram<'result'>;
  readonly realiseFailures: Counter<'reason'>;
  readonly realisedPaths: Counter<'how'>;
  readonly realiseDownload: Counter;
  readonly gcRuns: Counter<'outcome' | 'trigger'>;
  readonly gcFreed: Counter;
  readonly gcDuration: Histogram<'outcome'>;
  readonly gcLastSuccess: Gauge;
  readonly cachePushes: Counter<'outcome'>;
  readonly cachePushWaiting: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.rpcDuration = new Histogram({
      name: 'nixmount_rpc_duration_seconds', help: 'CSI calls answered, by method and gRPC code (_count is the number of calls)',
      labelNames: ['method', 'code'], buckets: CALL_BUCKETS, registers,
    });
    this.publishDuration = new Histogram({
      name: 'nixmount_publish_duration_seconds', help: 'Volumes published (not the idempotent repeats), whole publish, by mount mode',
      labelNames: ['mode'], buckets: CALL_BUCKETS, registers,
    });
    this.publishPhase = new Histogram({
      name: 'nixmount_publish_phase_seconds', help: 'Phases of each publish: realise (resolve and realise), view (find or build), mount',
      labelNames: ['phase'], buckets: CALL_BUCKETS, registers,
    });
    this.cachePushes = new Counter({
      name: 'nixmount_cache_push_total', help: 'Rounds of pushing realised paths to --push-to, by outcome (a failed round is retried later)', labelNames: ['outcome'], registers,
    });
    this.cachePushWaiting = new Gauge({ name: 'nixmount_cache_push_waiting_paths', help: 'Realised store paths queued for --push-to after the last round (not yet on the cache)', registers });
    this.publishFailures = new Counter({ name: 'nixmount_publish_failures_total', help: 'Publishes that failed, by reason (error kind)', labelNames: ['reason'], registers });
    this.viewCache = new Counter({
      name: 'nixmount_view_cache_total', help: 'Publishes that found their closure\'s view (hit) or built it (build)', labelNames: ['result'], registers,
    });
    this.unpublishDuration = new Histogram({ name: 'nixmount_unpublish_duration_seconds', help: 'Volumes unpublished', buckets: CALL_BUCKETS, registers });
    this.viewBuildDuration = new Histogram({
      name: 'nixmount_view_build_duration_seconds', help: 'Views built (hardlink or bind farm, Nix database, GC roots), publish or stage', buckets: WORK_BUCKETS, registers,
    });
    this.viewsRemoved = new Counter({ name: 'nixmount_views_removed_total', help: 'Views collected after no volume used them for --view-idle', registers });
    this.viewPresentations = new Counter({
      name: 'nixmount_view_presentations_total',
      help: 'Volumes by the presentation of their view (hardlink, bind_farm) and why (view_mode, read_write, fits_budget; fallbacks: over_budget, bind_farm_failed)',
      labelNames: ['presentation', 'reason'], registers,
    });
    this.mountBudgetAvailable = new Gauge({
      name: 'nixmount_mount_budget_available', help: 'Mounts left for bind farms at the last read-only publish: fs.mount-max less the headroom and the mounts present', registers,
    });
    this.realiseDuration = new Histogram({
      name: 'nixmount_realise_duration_seconds', help: 'Realisations of store paths missing from the node store (substitute or build), by result',
      labelNames: ['result'], buckets: WORK_BUCKETS, registers,
    });
    this.realiseFailures = new Counter({ name: 'nixmount_realise_failures_total', help: 'Realisations that failed, by reason (error kind)', labelNames: ['reason'], registers });
    this.realisedPaths = new Counter({
      name: 'nixmount_realised_paths_total', help: 'Store paths Nix fetched from a cache or built, as it started them', labelNames: ['how'], registers,
    });
    this.realiseDownload = new Counter({
      name: 'nixmount_realise_download_bytes_total', help: 'Bytes Nix announced it would download for realisations (to 0.01 MiB)', registers,
    });
    this.gcRuns = new Counter({ name: 'nixmount_store_gc_runs_total', help: 'Store garbage collections, by outcome and trigger', labelNames: ['outcome', 'trigger'], registers });
    this.gcFreed = new Counter({ name: 'nixmount_store_gc_freed_bytes_total', help: 'Bytes the store garbage collections freed', registers });
    this.gcDuration = new Histogram({
      name: 'nixmount_store_gc_duration_seconds', help: 'Store garbage collections, by outcome', labelNames: ['outcome'], buckets: WORK_BUCKETS, registers,
    });
    this.gcLastSuccess = new Gauge({
      name: 'nixmount_store_gc_last_success_timestamp_seconds', help: 'When the last store garbage collection succeeded (Unix time); 0 before the first', registers,
    });
    // Series that exist from the start, so rate() and ratios work before the first event.
    for (const result of ['hit', 'build']) this.viewCache.labels(result).inc(0);
    for (const how of ['fetched', 'built']) this.realisedPaths.labels(how).inc(0);
  }
}

/** `nixmount_build_info`: always 1, its labels say what runs (joined with other series in queries). */
export function registerBuildInfo(registry: Registry, info: { version: string; driver: string; orchestrator: string; mode: string }): void {
  new Gauge({
    name: 'nixmount_build_info', help: 'Always 1; the labels say what runs: version, driver name, orchestrator, mode',
    labelNames: ['version', 'driver', 'orchestrator', 'mode'], registers: [registry],
  }).labels(info).set(1);
}
