import type { NodeEvent, NodeEventListener } from '../../core/ports/node-events.js';
import type { NodeMetrics } from './node-metrics.js';

const MIB = 1024 * 1024;

/** The mount mode label of a volume. */
export function modeLabel(readonly: boolean): 'read_only' | 'read_write' {
  return readonly ? 'read_only' : 'read_write';
}

/** Turns each node event into metric updates; subscribed to the NodeEvents hub. */
export function eventMetrics(metrics: NodeMetrics, now: () => number = Date.now): NodeEventListener {
  return (event: NodeEvent) => {
    switch (event.kind) {
      case 'rpc':
        metrics.rpcDuration.labels(event.method, event.code).observe(event.seconds);
        break;
      case 'publish-finished':
        metrics.publishDuration.labels(modeLabel(event.readonly)).observe(event.seconds);
        for (const phase of ['realise', 'view', 'mount'] as const) metrics.publishPhase.labels(phase).observe(event.phases[phase]);
        metrics.viewCache.labels(event.viewReused ? 'hit' : 'build').inc();
        break;
      case 'publish-failed':
        metrics.publishFailures.labels(event.reason).inc();
        break;
      case 'unpublish-finished':
        metrics.unpublishDuration.observe(event.seconds);
        break;
      case 'view-built':
        metrics.viewBuildDuration.observe(event.seconds);
        break;
      case 'view-presentation':
        metrics.viewPresentations.labels(event.presentation.replace('-', '_'), event.reason.replaceAll('-', '_')).inc();
        if (event.mountsAvailable !== undefined) metrics.mountBudgetAvailable.set(event.mountsAvailable);
        break;
      case 'view-removed':
        metrics.viewsRemoved.inc();
        break;
      case 'realise-finished':
        metrics.realiseDuration.labels(event.ok ? 'ok' : 'failed').observe(event.seconds);
        if (!event.ok) metrics.realiseFailures.labels(event.reason ?? 'Internal').inc();
        metrics.realisedPaths.labels('fetched').inc(event.fetched);
        metrics.realisedPaths.labels('built').inc(event.built);
        metrics.realiseDownload.inc(Math.round(event.downloadMiB * MIB));
        break;
      case 'cache-push':
        metrics.cachePushes.labels(event.ok ? 'ok' : 'failed').inc();
        metrics.cachePushWaiting.set(event.waiting);
        break;
      case 'store-gc':
        metrics.gcRuns.labels(event.outcome, event.trigger).inc();
        metrics.gcFreed.inc(event.bytesFreed);
        metrics.gcDuration.labels(event.outcome).observe(event.seconds);
        if (event.outcome === 'ok') metrics.gcLastSuccess.set(now() / 1000);
        break;
      case 'realise-progress':
      case 'calls-refused':
        break; // for Kubernetes Events; the in-flight gauge is read at scrape time
    }
  };
}
