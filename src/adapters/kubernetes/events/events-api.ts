import { ApiError, apiRequest } from '../api/api-request.js';
import type { ApiServer } from '../api/in-cluster.js';

export { ApiError };

/** A core/v1 Event as nixmount writes it (the legacy form: count and first/last timestamps, no eventTime). */
export interface CoreEvent {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { name: string; namespace: string };
  /** A pod, or a Node (cluster-scoped: no namespace; kubelet's uid for it is its name). */
  involvedObject: { apiVersion: 'v1'; kind: 'Pod'; name: string; namespace: string; uid?: string } | { apiVersion: 'v1'; kind: 'Node'; name: string; uid: string };
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  source: { component: string; host: string };
  reportingComponent: string;
  reportingInstance: string;
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
}

/** What a repeat changes on an Event already posted. */
export interface EventRepeat {
  count: number;
  lastTimestamp: string;
  message: string;
}

/** Where Events go: the two calls an event recorder makes. */
export interface EventSink {
  create(event: CoreEvent): Promise<void>;
  /** Throws ApiError with status 404 when the Event is gone (Events expire after an hour). */
  repeat(namespace: string, name: string, repeat: EventRepeat): Promise<void>;
}

/** The two calls on /api/v1/namespaces/<ns>/events. */
export class EventsApi implements EventSink {
  constructor(private readonly server: ApiServer) {}

  async create(event: CoreEvent): Promise<void> {
    await this.send('POST', `/api/v1/namespaces/${encodeURIComponent(event.metadata.namespace)}/events`, 'application/json', event);
  }

  async repeat(namespace: string, name: string, repeat: EventRepeat): Promise<void> {
    // A strategic merge patch of the fields a repeat changes, as client-go's event correlator sends.
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/events/${encodeURIComponent(name)}`;
    await this.send('PATCH', path, 'application/strategic-merge-patch+json', repeat);
  }

  private async send(method: 'POST' | 'PATCH', path: string, contentType: string, body: unknown): Promise<void> {
    await apiRequest(this.server, { method, path, contentType, body });
  }
}
