import { parseListenAddress } from '../settings/listen-address.js';
import { info, ok, reason, type Check, type CheckResult } from './check.js';

const QUEUE = 'push-queue';

export interface PushQueueSettings {
  /** --push-to of the serve being checked: nothing to say without one. */
  pushTo?: string;
  /** That serve's --metrics-address (known with --serve-pid). */
  metricsAddress?: string;
  timeoutMs: number;
}

/** Where a listener of `address` is reached from this host: its own host, or loopback when it listens on every interface. */
export function metricsUrl(address: string): string {
  const { host, port } = parseListenAddress(address);
  const reachable = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}/metrics`;
}

/** The value of the sample `name` (with exactly `labels`, e.g. `{outcome="ok"}`) in Prometheus text; 0 when absent (a counter never incremented). */
export function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}${labels} `));
  return line ? Number(line.slice(name.length + labels.length + 1).trim().split(' ')[0]) : 0;
}

/**
 * The state of serve's background push queue, read from its own metrics: how many
 * realised paths wait for the cache, and how its rounds went. An `info` line at worst:
 * pushes never fail a volume, and a queue that is not empty may be a round under way.
 */
export async function pushQueueResult(settings: PushQueueSettings): Promise<CheckResult | undefined> {
  const { pushTo, metricsAddress, timeoutMs } = settings;
  if (!pushTo || !metricsAddress) return undefined;
  const url = metricsUrl(metricsAddress);
  let text: string;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (response.status !== 200) {
      await response.body?.cancel();
      return info(QUEUE, `serve's metrics at ${url} answer HTTP ${response.status}: its push queue is not known`, 'check --metrics-address of serve');
    }
    text = await response.text();
  } catch (error) {
    const err = error as Error & { cause?: NodeJS.ErrnoException };
    const why = err?.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000}s` : (err?.cause?.code ?? reason(error));
    return info(QUEUE, `serve's metrics at ${url} do not answer (${why}): its push queue is not known`, 'run doctor where serve\'s metrics port is reachable (its pod or allocation)');
  }
  const waiting = sample(text, 'nixmount_cache_push_waiting_paths');
  const pushed = sample(text, 'nixmount_cache_push_total', '{outcome="ok"}');
  const failed = sample(text, 'nixmount_cache_push_total', '{outcome="failed"}');
  const rounds = `rounds so far: ${pushed} pushed, ${failed} failed`;
  if (waiting === 0) return ok(QUEUE, `nothing waits for ${pushTo} (${rounds})`);
  return info(
    QUEUE,
    `${waiting} realised path${waiting === 1 ? '' : 's'} wait for ${pushTo} after the last round (${rounds})`,
    'a failed round is retried a minute later; if the number stays, the cache is down or refuses PUT: see the push-cache line and serve\'s warnings',
  );
}

export function pushQueueCheck(settings: PushQueueSettings): Check {
  return {
    name: QUEUE,
    timeoutMs: settings.timeoutMs + 5_000,
    run: async () => {
      const result = await pushQueueResult(settings);
      return result ? [result] : [];
    },
  };
}
