import { request } from 'node:https';
import { readFile } from 'node:fs/promises';
import type { ApiServer } from './in-cluster.js';

const REQUEST_TIMEOUT_MS = 10_000;
/** Bytes of an error answer kept for the log. */
const ERROR_BODY_BYTES = 300;

/** A core/v1 Event as nixmount writes it (the legacy form: count and first/last timestamps, no eventTime). */
export interface CoreEvent {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { name: string; namespace: string };
  involvedObject: { apiVersion: 'v1'; kind: 'Pod'; name: string; namespace: string; uid?: string };
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

/** The API server refused or failed a request. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Where Events go: the two calls an event recorder makes. */
export interface EventSink {
  create(event: CoreEvent): Promise<void>;
  /** Throws ApiError with status 404 when the Event is gone (Events expire after an hour). */
  repeat(namespace: string, name: string, repeat: EventRepeat): Promise<void>;
}

/**
 * The two calls on /api/v1/namespaces/<ns>/events, made with node:https and the pod's
 * service-account token. A dedicated client costs ~4 MiB of RSS where @kubernetes/client-node
 * costs ~70 MiB (docs/operations.md, "Kubernetes Events").
 */
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

  private async send(method: string, path: string, contentType: string, body: unknown): Promise<void> {
    const token = (await readFile(this.server.tokenFile, 'utf8')).trim();
    const payload = Buffer.from(JSON.stringify(body));
    await new Promise<void>((resolve, reject) => {
      const call = request(
        {
          host: this.server.host,
          port: this.server.port,
          method,
          path,
          ca: this.server.ca,
          timeout: REQUEST_TIMEOUT_MS,
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': contentType,
            'content-length': payload.length,
            accept: 'application/json',
            'user-agent': 'nixmount',
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          response.on('data', (chunk: Buffer) => {
            if (kept < ERROR_BODY_BYTES) chunks.push(chunk);
            kept += chunk.length;
          });
          response.on('error', reject);
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve();
            const text = Buffer.concat(chunks).toString('utf8').slice(0, ERROR_BODY_BYTES);
            reject(new ApiError(status, `${method} ${path}: ${status} ${apiMessage(text)}`));
          });
        },
      );
      call.on('timeout', () => call.destroy(new Error(`${method} ${path}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
      call.on('error', reject);
      call.end(payload);
    });
  }
}

/** The message of a metav1.Status answer, else the text itself. */
function apiMessage(text: string): string {
  try {
    const status = JSON.parse(text) as { message?: unknown };
    if (typeof status.message === 'string') return status.message;
  } catch {
    // not JSON (a proxy's page, or cut short): the text says what there is to say
  }
  return text;
}
