import type { Logger } from '../../../core/ports/logger.js';
import { ApiError, type CoreEvent, type EventSink } from './events-api.js';
import type { NodeObjectEvent, PodEvent } from './event-reasons.js';

/** What the recorder posts: an Event on a pod, or on this node's Node object. */
export type RecordedEvent = PodEvent | NodeObjectEvent;

// Events about cluster-scoped objects live in `default`, where kubelet puts a Node's own.
const NODE_EVENTS_NAMESPACE = 'default';

/** Where an Event goes, the object it names, and how the log names it. */
function subjectOf(event: RecordedEvent): { namespace: string; name: string; involvedObject: CoreEvent['involvedObject']; label: string; key: string } {
  if ('node' in event) {
    return {
      namespace: NODE_EVENTS_NAMESPACE,
      name: event.node,
      involvedObject: { apiVersion: 'v1', kind: 'Node', name: event.node, uid: event.node },
      label: `node ${event.node}`,
      key: `node/${event.node}`,
    };
  }
  const { pod } = event;
  return {
    namespace: pod.namespace,
    name: pod.name,
    involvedObject: { apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace, ...(pod.uid ? { uid: pod.uid } : {}) },
    label: `${pod.namespace}/${pod.name}`,
    key: `${pod.namespace}/${pod.name}/${pod.uid ?? ''}`,
  };
}

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
  event: RecordedEvent;
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
 * Posts Events on pods (and on this node), aggregated and rate limited per object and reason, as client-go's event
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

  record(event: RecordedEvent): void {
    if (this.stopped) return;
    const now = this.options.now();
    const key = `${subjectOf(event).key}\0${event.reason}`;
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
    const { reason, type, message } = entry.event;
    const subject = subjectOf(entry.event);
    const count = entry.count;
    try {
      if (entry.name) {
        try {
          await this.sink.repeat(subject.namespace, entry.name, { count, lastTimestamp: timestamp(entry.last), message });
          return;
        } catch (error) {
          // Gone (expired after an hour, or deleted): start a new Event, as client-go does.
          if (!(error instanceof ApiError && error.status === 404)) throw error;
          entry.name = undefined;
        }
      }
      const name = eventName(subject.name, entry.first);
      const event: CoreEvent = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: subject.namespace },
        involvedObject: subject.involvedObject,
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
      this.log.warn({ err: error, about: subject.label, reason }, 'Kubernetes Events: posting an event failed; the volume is not affected');
    }
  }
}
