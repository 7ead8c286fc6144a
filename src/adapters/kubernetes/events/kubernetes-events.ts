import type { Logger } from '../../../core/ports/logger.js';
import type { NodeEvents } from '../../../core/ports/node-events.js';
import { EventRecorder, DEFAULT_RECORDER_OPTIONS, type RecorderOptions } from './event-recorder.js';
import { nodeObjectEventFor, podEventFor } from './event-reasons.js';
import { EventsApi, type EventSink } from './events-api.js';
import { inClusterApiServer, SERVICE_ACCOUNT_DIR } from '../api/in-cluster.js';

export interface KubernetesEventsOptions {
  nodeName: string;
  log: Logger;
  /** Where Events go: the in-cluster API server unless given. */
  sink?: EventSink;
  recorder?: Partial<Omit<RecorderOptions, 'nodeName'>>;
}

export interface KubernetesEvents {
  recorder: EventRecorder;
  stop(): void;
}

/**
 * `serve --kubernetes-events`: turns the node's events into core/v1 Events on the pods,
 * and on the Node for what concerns no pod (see event-reasons.ts). Returns undefined,
 * having logged why, when the API server cannot be reached from here: Events are an
 * extra, never a reason for the node plugin not to run.
 */
export async function startKubernetesEvents(hub: NodeEvents, options: KubernetesEventsOptions): Promise<KubernetesEvents | undefined> {
  let sink = options.sink;
  if (!sink) {
    try {
      sink = new EventsApi(await inClusterApiServer(process.env, SERVICE_ACCOUNT_DIR));
    } catch (error) {
      options.log.error({ err: error }, 'Kubernetes Events are off: the API server cannot be reached from this pod');
      return undefined;
    }
  }
  const recorder = new EventRecorder(
    sink,
    { ...DEFAULT_RECORDER_OPTIONS, now: () => new Date(), ...options.recorder, nodeName: options.nodeName },
    options.log,
  );
  const unsubscribe = hub.subscribe((event) => {
    const recorded = podEventFor(event) ?? nodeObjectEventFor(event, options.nodeName);
    if (recorded) recorder.record(recorded);
  });
  options.log.info({ node: options.nodeName }, 'posting Kubernetes Events on pods and on the Node');
  return {
    recorder,
    stop() {
      unsubscribe();
      recorder.stop();
    },
  };
}
