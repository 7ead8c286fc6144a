import type { NodeEvent, Workload } from '../../../core/ports/node-events.js';

/** The pod an Event is about, from the pod info kubelet sends (podInfoOnMount). */
export interface PodRef {
  namespace: string;
  name: string;
  uid?: string;
}

/** One Event to post on a pod: what happened (reason), how bad (type), and what to do (message). */
export interface PodEvent {
  pod: PodRef;
  reason: EventReason;
  type: 'Normal' | 'Warning';
  message: string;
}

/** One Event to post on this node's Node object: what only the node can see, about no pod. */
export interface NodeObjectEvent {
  node: string;
  reason: NodeEventReason;
  type: 'Warning';
  message: string;
}

export const EVENT_REASONS = ['NixRealising', 'VolumePublished', 'NixRealiseFailed', 'ClosureNotFound', 'SourceDenied', 'InvalidVolume'] as const;
export type EventReason = (typeof EVENT_REASONS)[number];
export const NODE_EVENT_REASONS = ['CsiCallsRefused'] as const;
export type NodeEventReason = (typeof NODE_EVENT_REASONS)[number];

/** kubectl shows a message whole; the events.k8s.io API caps a note at 1 KiB, so nixmount does too. */
export const MESSAGE_LIMIT = 1024;

const FIXES = {
  ClosureNotFound:
    'Fix: copy the closure to a binary cache this node substitutes from (nix copy --to <cache> <path>), ' +
    'or correct the store paths in the volume\'s attributes.',
  SourceDenied:
    'Fix: name store paths a cache of the node has, or have the cluster admin allow this source on the nodes ' +
    '(nixmount serve --allow-sources, --flake-prefixes, --builds allowed).',
  InvalidVolume:
    'Fix: correct the volumeAttributes of the pod\'s csi volume (keys: paths, <system> such as x86_64-linux, expression, flakeRef).',
  buildFailed: 'Fix: repair the derivation (the end of its build log is above), or build it elsewhere and push it to a cache the node substitutes from.',
  realiseFailed: 'Fix: check that the node reaches its substituters (nixmount doctor on the node); kubelet retries the mount.',
} as const;

// Said for kubelet: the plugin's log line names Nomad's versions too.
const CALLS_REFUSED =
  "kubelet's CSI calls to nixmount on this node are refused before they reach the plugin (HTTP/2 PROTOCOL_ERROR): " +
  "kubelet before Kubernetes 1.26 sends the socket's path as the :authority, which Node.js's HTTP/2 rejects, so no " +
  'nixmount volume can mount here and pods wait in ContainerCreating. Fix: upgrade kubelet on this node to 1.26 or later.';

/** The Event a node event becomes on the Node object, if any. */
export function nodeObjectEventFor(event: NodeEvent, node: string): NodeObjectEvent | undefined {
  if (event.kind !== 'calls-refused') return undefined;
  return { node, reason: 'CsiCallsRefused', type: 'Warning', message: CALLS_REFUSED };
}

/** The pod named in a workload (`pod` = "namespace/name", `podUid`); none without a namespace. */
export function podOf(workload: Workload): PodRef | undefined {
  const [namespace, name, ...rest] = (workload.pod ?? '').split('/');
  if (!namespace || !name || rest.length > 0) return undefined;
  return { namespace, name, ...(workload.podUid ? { uid: workload.podUid } : {}) };
}

/** kubelet's volume name: the directory above `mount` in …/volumes/kubernetes.io~csi/<name>/mount. */
export function volumeName(targetPath: string | undefined): string | undefined {
  if (!targetPath) return undefined;
  const parts = targetPath.split('/').filter((part) => part !== '');
  const last = parts.at(-1);
  return last === 'mount' ? parts.at(-2) : last;
}

function seconds(value: number): string {
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} s`;
}

/** `lead` + the core's `detail` (cut to fit) + `fix`, within MESSAGE_LIMIT. */
function compose(lead: string, detail: string, fix: string): string {
  const room = MESSAGE_LIMIT - lead.length - fix.length - 2;
  const cut = detail.length > room ? `${detail.slice(0, Math.max(0, room - 1))}…` : detail;
  return `${lead}${cut}. ${fix}`.slice(0, MESSAGE_LIMIT);
}

/**
 * The Event a node event becomes, if any. Failures the pod's owner cannot act on here
 * (a mount that failed, an ABORTED wait) get none: kubelet's own FailedMount Event
 * carries the gRPC message.
 */
export function podEventFor(event: NodeEvent): PodEvent | undefined {
  if (event.kind !== 'publish-finished' && event.kind !== 'publish-failed' && event.kind !== 'realise-progress') return undefined;
  const pod = podOf(event.workload);
  if (!pod) return undefined;
  const name = volumeName(event.targetPath);
  const volume = name ? `volume ${name}: ` : '';
  switch (event.kind) {
    case 'realise-progress':
      return {
        pod, type: 'Normal', reason: 'NixRealising',
        message: `${volume}preparing its closure for ${seconds(event.seconds)}: ${event.summary}`,
      };
    case 'publish-finished': {
      const size = event.bytes !== undefined ? ` (${(event.bytes / 1048576).toFixed(1)} MiB)` : '';
      const { realise, view, mount } = event.phases;
      return {
        pod, type: 'Normal', reason: 'VolumePublished',
        message:
          `${volume}mounted ${event.paths} store path${event.paths === 1 ? '' : 's'}${size} ${event.readonly ? 'read-only' : 'read-write'} in ${seconds(event.seconds)} ` +
          `(realise ${seconds(realise)}, view ${seconds(view)}, mount ${seconds(mount)}); ` +
          (event.viewReused ? 'the view of this closure was reused' : 'the view of this closure was built'),
      };
    }
    case 'publish-failed': {
      const failure = failureReason(event);
      if (!failure) return undefined;
      const fix = failure === 'NixRealiseFailed' ? (event.failedDerivation ? FIXES.buildFailed : FIXES.realiseFailed) : FIXES[failure];
      return { pod, type: 'Warning', reason: failure, message: compose(volume, event.message, fix) };
    }
  }
}

function failureReason(event: Extract<NodeEvent, { kind: 'publish-failed' }>): Exclude<EventReason, 'NixRealising' | 'VolumePublished'> | undefined {
  if (event.reason === 'PermissionDenied') return 'SourceDenied';
  if (event.reason === 'InvalidArgument') return 'InvalidVolume';
  if (event.missingPaths) return 'ClosureNotFound';
  if (event.phase === 'realise' && event.reason !== 'Aborted') return 'NixRealiseFailed';
  return undefined;
}
