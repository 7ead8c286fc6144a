import type { Logger } from '../../../core/ports/logger.js';
import { ApiError, type CoreEvent, type EventSink } from './events-api.js';
import type { PodEvent } from './event-reasons.js';

export interface RecorderOptions {
  /** Who reports: the node name (source.host, reportingInstance). */
  nodeName: string;
  /** source.component and reportingComponent. */
  component: string;
  /** One API call per pod and reason at most this often; what happens in between is folded into the next. */
  minIntervalMs: number;
  /** Pod+reason entries waiting for an API call; beyond this, new ones are dropped (and counted). */
  maxQueued: number;
  /** Pod+reason entries remembered (to PATCH their Event); the least recently used is forgotten first. */
  maxRemembered: number;
  /** After this long without a repeat, a repeat starts a new Event (the API server deletes Events after 1 h). */
  eventTtlMs: number;
  now(): Date;
}

export const DEFAULT_RECORDER_OPTIONS = {
  component: 'nixmount',
  minIntervalMs: 10_000,
  maxQueued: 256,
  maxRemembered: 1000,
  eventTtlMs: 55 * 60_000,
} as const;

/** One pod and reason: the Event posted for it, and what is not posted yet. */
interface Entry {
  key: string;
  event: PodEvent;
  /** metadata.name once the Event exists. */
  name?: string;
  count: number;
  first: Date;
  last: Date;
  lastSentAt: number;
  queued: boolean;
  timer?: NodeJS.Timeout;
}

/** metav1.Time: RFC 3339 in whole seconds, UTC. */
function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

let nameSequence = 0n;

/** client-go's Event names: the object's name, a dot, and a hex timestamp in nanoseconds (here made unique per process). */
function eventName(podName: string, at: Date): string {
  nameSequence = (nameSequence + 1n) % 1_000_000n;
  return `${podName}.${(BigInt(at.getTime()) * 1_000_000n + nameSequence).toString(16)}`;
}

/**
 * Posts Events on pods, aggregated and rate limited per pod and reason, as client-go's event
 * correlator does: the first occurrence creates an Event; a repeat PATCHes its count,
 * lastTimestamp and message, at most once per `minIntervalMs` (repeats in between fold into
 * one call). Calls run one at a time from a bounded queue. Best-effort: a failed call is
 * logged and forgotten; nothing waits on it and nothing it does reaches a publish.
 */
export class EventRecorder {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private running = false;
  private stopped = false;
  /** Events not posted because the queue was full (reported in the log). */
  dropped = 0;
  private idle: Promise<void> = Promise.resolve();
  private settle?: () => void;

  constructor(
    private readonly sink: EventSink,
    private readonly options: RecorderOptions,
    private readonly log: Logger,
  ) {}

  record(event: PodEvent): void {
    if (this.stopped) return;
    const now = this.options.now();
    const key = `${event.pod.namespace}/${event.pod.name}/${event.pod.uid ?? ''}\0${event.reason}`;
    let entry = this.entries.get(key);
    if (entry && now.getTime() - entry.last.getTime() > this.options.eventTtlMs && !entry.queued && !entry.timer) {
      this.entries.delete(key);
      entry = undefined;
    }
    if (!entry) {
      entry = { key, event, count: 0, first: now, last: now, lastSentAt: -Infinity, queued: false };
      this.remember(entry);
    } else {
      // Most recently used last, so the first key is the one to forget.
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    entry.event = event;
    entry.count++;
    entry.last = now;
    this.schedule(entry);
  }

  /** Resolves once nothing is queued or running (timers of rate-limited repeats aside). */
  async drained(): Promise<void> {
    await this.idle;
  }

  /** Stops posting: pending repeats are dropped. */
  stop(): void {
    this.stopped = true;
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
    this.queue.length = 0;
  }

  private remember(entry: Entry): void {
    this.entries.set(entry.key, entry);
    if (this.entries.size <= this.options.maxRemembered) return;
    for (const [key, old] of this.entries) {
      if (old.queued || old.timer) continue;
      this.entries.delete(key);
      break;
    }
  }

  private schedule(entry: Entry): void {
    if (entry.queued || entry.timer) return; // the pending call will carry this occurrence
    const wait = entry.lastSentAt + this.options.minIntervalMs - Date.now();
    if (wait > 0) {
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        this.enqueue(entry);
      }, wait);
      entry.timer.unref();
      return;
    }
    this.enqueue(entry);
  }

  private enqueue(entry: Entry): void {
    if (this.stopped) return;
    if (this.queue.length >= this.options.maxQueued) {
      this.dropped++;
      if (this.dropped === 1 || this.dropped % 100 === 0) {
        this.log.warn({ dropped: this.dropped, queued: this.queue.length }, 'Kubernetes Events: queue full; events dropped');
      }
      return;
    }
    entry.queued = true;
    this.queue.push(entry);
    if (!this.running) this.run();
  }

  private run(): void {
    this.running = true;
    this.idle = new Promise((resolve) => {
      this.settle = resolve;
    });
    void (async () => {
      for (let entry = this.queue.shift(); entry; entry = this.queue.shift()) {
        entry.queued = false;
        entry.lastSentAt = Date.now();
        await this.send(entry);
        // The interval runs from the answer, so a slow API server is not also a busy one.
        entry.lastSentAt = Date.now();
      }
      this.running = false;
      this.settle?.();
    })();
  }

  private async send(entry: Entry): Promise<void> {
    const { pod, reason, type, message } = entry.event;
    const count = entry.count;
    try {
      if (entry.name) {
        try {
          await this.sink.repeat(pod.namespace, entry.name, { count, lastTimestamp: timestamp(entry.last), message });
          return;
        } catch (error) {
          // Gone (expired after an hour, or deleted): start a new Event, as client-go does.
          if (!(error instanceof ApiError && error.status === 404)) throw error;
          entry.name = undefined;
        }
      }
      const name = eventName(pod.name, entry.first);
      const event: CoreEvent = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: pod.namespace },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace, ...(pod.uid ? { uid: pod.uid } : {}) },
        reason,
        message,
        type,
        source: { component: this.options.component, host: this.options.nodeName },
        reportingComponent: this.options.component,
        reportingInstance: this.options.nodeName,
        firstTimestamp: timestamp(entry.first),
        lastTimestamp: timestamp(entry.last),
        count,
      };
      await this.sink.create(event);
      entry.name = name;
    } catch (error) {
      this.log.warn({ err: error, pod: `${pod.namespace}/${pod.name}`, reason }, 'Kubernetes Events: posting an event failed; the volume is not affected');
    }
  }
}
