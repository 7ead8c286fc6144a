import test from 'ava';
import { MESSAGE_LIMIT, nodeObjectEventFor, podEventFor, podOf, volumeName } from '../../../../src/adapters/kubernetes/events/event-reasons.js';
import type { NodeEvent } from '../../../../src/core/ports/node-events.js';

const WORKLOAD = { pod: 'shop/web-0', podUid: '6f1c7f5e-0000-4000-8000-000000000001', serviceAccount: 'default' };
const POD = { namespace: 'shop', name: 'web-0', uid: '6f1c7f5e-0000-4000-8000-000000000001' };
const TARGET = '/var/lib/kubelet/pods/6f1c7f5e-0000-4000-8000-000000000001/volumes/kubernetes.io~csi/nix/mount';

function failed(fields: Partial<Extract<NodeEvent, { kind: 'publish-failed' }>>): NodeEvent {
  return { kind: 'publish-failed', workload: WORKLOAD, volumeId: 'csi-1', targetPath: TARGET, reason: 'Internal', message: 'm', seconds: 1, ...fields };
}

test('NixRealising: the volume, how long it has waited and the progress summary', (t) => {
  const event = podEventFor({
    kind: 'realise-progress', workload: WORKLOAD, volumeId: 'csi-1', targetPath: TARGET,
    summary: 'realising: fetching 3/10 paths (12.5 MiB to download)', seconds: 5.02,
  });
  t.deepEqual(event, {
    pod: POD, type: 'Normal', reason: 'NixRealising',
    message: 'volume nix: preparing its closure for 5.0 s: realising: fetching 3/10 paths (12.5 MiB to download)',
  });
});

test('VolumePublished: paths, size when known, mode, seconds by phase, and whether the view was reused', (t) => {
  const base = {
    kind: 'publish-finished' as const, workload: WORKLOAD, volumeId: 'csi-1', targetPath: TARGET, readonly: true,
    viewReused: false, paths: 42, seconds: 3.21, phases: { realise: 2.9, view: 0.2, mount: 0.11 },
  };
  t.deepEqual(podEventFor(base), {
    pod: POD, type: 'Normal', reason: 'VolumePublished',
    message: 'volume nix: mounted 42 store paths read-only in 3.2 s (realise 2.9 s, view 0.2 s, mount 0.1 s); the view of this closure was built',
  });
  t.is(
    podEventFor({ ...base, readonly: false, viewReused: true, bytes: 134_217_728, seconds: 12.4, phases: { realise: 0, view: 0.01, mount: 12.39 } })?.message,
    'volume nix: mounted 42 store paths (128.0 MiB) read-write in 12 s (realise 0.0 s, view 0.0 s, mount 12 s); the view of this closure was reused',
  );
});

test('ClosureNotFound: the core\'s message naming the paths, and the fix', (t) => {
  const message = 'store paths not available on this node or from its substituters: "/nix/store/aaaa-x" (caches: none; not found)';
  t.deepEqual(podEventFor(failed({ reason: 'FailedPrecondition', phase: 'realise', message, missingPaths: ['/nix/store/aaaa-x'] })), {
    pod: POD, type: 'Warning', reason: 'ClosureNotFound',
    message:
      `volume nix: ${message}. Fix: copy the closure to a binary cache this node substitutes from (nix copy --to <cache> <path>), ` +
      'or correct the store paths in the volume\'s attributes.',
  });
});

test('NixRealiseFailed: a failed build names the derivation fix; another realise failure the caches', (t) => {
  t.deepEqual(podEventFor(failed({ reason: 'FailedPrecondition', phase: 'realise', message: 'build of /nix/store/d.drv failed', failedDerivation: '/nix/store/d.drv' })), {
    pod: POD, type: 'Warning', reason: 'NixRealiseFailed',
    message:
      'volume nix: build of /nix/store/d.drv failed. Fix: repair the derivation (the end of its build log is above), ' +
      'or build it elsewhere and push it to a cache the node substitutes from.',
  });
  t.is(
    podEventFor(failed({ reason: 'Unavailable', phase: 'realise', message: 'flakeRef "github:a/b": fetching its sources failed: timeout' }))?.message,
    'volume nix: flakeRef "github:a/b": fetching its sources failed: timeout. Fix: check that the node reaches its substituters (nixmount doctor on the node); kubelet retries the mount.',
  );
});

test('SourceDenied: a policy refusal, with the settings that would allow it', (t) => {
  const message = 'the "expression" key is refused by this node\'s source policy (allowed sources do not include expressions; see serve --allow-sources)';
  t.deepEqual(podEventFor(failed({ reason: 'PermissionDenied', message })), {
    pod: POD, type: 'Warning', reason: 'SourceDenied',
    message:
      `volume nix: ${message}. Fix: name store paths a cache of the node has, or have the cluster admin allow this source on the nodes ` +
      '(nixmount serve --allow-sources, --flake-prefixes, --builds allowed).',
  });
});

test('InvalidVolume: a refused volume context, with the keys a volume may have', (t) => {
  t.deepEqual(podEventFor(failed({ reason: 'InvalidArgument', message: 'volume_context: unknown key "colour"' })), {
    pod: POD, type: 'Warning', reason: 'InvalidVolume',
    message:
      'volume nix: volume_context: unknown key "colour". Fix: correct the volumeAttributes of the pod\'s csi volume ' +
      '(keys: paths, <system> such as x86_64-linux, expression, flakeRef).',
  });
});

test('no Event: an ABORTED wait, a failure after the realise, an unpublish, a pod without namespace', (t) => {
  t.is(podEventFor(failed({ reason: 'Aborted', phase: 'realise', message: 'still preparing' })), undefined);
  t.is(podEventFor(failed({ reason: 'FailedPrecondition', phase: 'mount', message: 'mount failed' })), undefined);
  t.is(podEventFor(failed({ reason: 'AlreadyExists', message: 'other arguments' })), undefined);
  t.is(podEventFor({ kind: 'unpublish-finished', volumeId: 'v', wasPublished: true, seconds: 0 }), undefined);
  t.is(podEventFor(failed({ reason: 'InvalidArgument', workload: { pod: 'web-0' } })), undefined);
  t.is(podEventFor(failed({ reason: 'InvalidArgument', workload: {} })), undefined);
});

test('a long core message is cut so the Event keeps its fix within 1 KiB', (t) => {
  const message = podEventFor(failed({ reason: 'InvalidArgument', message: 'x'.repeat(5000) }))!.message;
  t.is(message.length, MESSAGE_LIMIT);
  t.true(message.endsWith('…. Fix: correct the volumeAttributes of the pod\'s csi volume (keys: paths, <system> such as x86_64-linux, expression, flakeRef).'));
});

test('pod and volume names are read from the workload and kubelet\'s target path', (t) => {
  t.deepEqual(podOf({ pod: 'a/b' }), { namespace: 'a', name: 'b' });
  t.is(podOf({ pod: 'a/b/c' }), undefined);
  t.is(volumeName('/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/tools/mount'), 'tools');
  t.is(volumeName('/srv/x/target'), 'target');
  t.is(volumeName(undefined), undefined);
});

test('CsiCallsRefused: refused calls become a Warning on the Node saying which kubelet works; no other node event does', (t) => {
  const event = nodeObjectEventFor({ kind: 'calls-refused' }, 'worker-1');
  t.like(event, { node: 'worker-1', type: 'Warning', reason: 'CsiCallsRefused' });
  t.regex(event!.message, /upgrade kubelet on this node to 1\.26 or later/);
  t.true(event!.message.length <= MESSAGE_LIMIT);
  t.is(podEventFor({ kind: 'calls-refused' }), undefined);
  t.is(nodeObjectEventFor(failed({ reason: 'InvalidArgument' }), 'worker-1'), undefined);
});
