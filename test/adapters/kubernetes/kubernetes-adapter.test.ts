import test from 'ava';
import { BUILTIN_ADAPTERS, createAdapterFrom } from '../../../src/adapters/registry.js';
import { KubernetesAdapter } from '../../../src/adapters/kubernetes/kubernetes-adapter.js';
import { kubeletTargetPath } from '../../../src/adapters/kubernetes/kubelet-paths.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';

const STORE_PATH = '/nix/store/0c1p7xlrxl8mdsbjbkq9y5wlfyjz36s2-hello-2.12.1';
const adapter = new KubernetesAdapter({ nodeName: 'worker-1', kubeletDir: '/var/lib/kubelet' });
const podInfo = {
  'csi.storage.k8s.io/pod.name': 'web-0',
  'csi.storage.k8s.io/pod.namespace': 'shop',
  'csi.storage.k8s.io/pod.uid': '6f1a2b3c-0000-4000-8000-000000000001',
  'csi.storage.k8s.io/serviceAccount.name': 'default',
  'csi.storage.k8s.io/ephemeral': 'true',
};

function invalid(t: import('ava').ExecutionContext, fn: () => unknown, named: string): void {
  const error = t.throws(fn, { instanceOf: InvalidArgumentError });
  t.true(error?.message.includes(named), `"${error?.message}" should name ${named}`);
}

test('kubelet keys become the ephemeral flag and log fields; only user keys reach the spec', (t) => {
  const parsed = adapter.parseVolumeContext({ paths: STORE_PATH, ...podInfo });
  t.deepEqual(parsed.spec, { storePaths: [STORE_PATH], systemPaths: {} });
  t.true(parsed.ephemeral);
  t.deepEqual(parsed.workload, { pod: 'shop/web-0', podUid: podInfo['csi.storage.k8s.io/pod.uid'], serviceAccount: 'default' });
});

test('nix-csi keys are accepted unchanged (<system> and expression)', (t) => {
  const parsed = adapter.parseVolumeContext({ 'x86_64-linux': STORE_PATH, 'aarch64-linux': STORE_PATH.replace('hello', 'hello-arm'), ...podInfo });
  t.deepEqual(Object.keys(parsed.spec.systemPaths).sort(), ['aarch64-linux', 'x86_64-linux']);
  t.is(adapter.parseVolumeContext({ expression: '{ pkgs ? import <nixpkgs> {} }: pkgs.hello' }).spec.expression, '{ pkgs ? import <nixpkgs> {} }: pkgs.hello');
});

test('without pod info (podInfoOnMount false, or a PV) the volume is not ephemeral', (t) => {
  const parsed = adapter.parseVolumeContext({ paths: STORE_PATH });
  t.false(parsed.ephemeral);
  t.deepEqual(parsed.workload, {});
});

test('a PV from the external-provisioner: its identity key is dropped and ephemeral "false" means persistent', (t) => {
  const parsed = adapter.parseVolumeContext({
    'x86_64-linux': STORE_PATH,
    'storage.kubernetes.io/csiProvisionerIdentity': '1732245600000-8081-nixmount.csi.nixos.dev',
    ...podInfo,
    'csi.storage.k8s.io/ephemeral': 'false',
  });
  t.false(parsed.ephemeral);
  t.deepEqual(parsed.spec, { storePaths: [], systemPaths: { 'x86_64-linux': [STORE_PATH] } });
});

test('future kubelet keys under csi.storage.k8s.io/ are tolerated and never logged', (t) => {
  const parsed = adapter.parseVolumeContext({ paths: STORE_PATH, ...podInfo, 'csi.storage.k8s.io/serviceAccount.tokens': '{"sts":{"token":"secret"}}' });
  t.false(JSON.stringify(parsed).includes('secret'));
});

test('unknown keys, a bad ephemeral value and an empty context are INVALID_ARGUMENT naming the key', (t) => {
  invalid(t, () => adapter.parseVolumeContext({ paths: STORE_PATH, pahts: STORE_PATH, ...podInfo }), '"pahts"');
  invalid(t, () => adapter.parseVolumeContext({ paths: STORE_PATH, 'storage.kubernetes.io/other': 'x' }), 'storage.kubernetes.io/other');
  invalid(t, () => adapter.parseVolumeContext({ paths: STORE_PATH, 'csi.storage.k8s.io/ephemeral': 'yes' }), 'csi.storage.k8s.io/ephemeral');
  invalid(t, () => adapter.parseVolumeContext({ ...podInfo }), 'names no closure');
  invalid(t, () => adapter.parseVolumeContext({ paths: '/tmp/not-a-store-path', ...podInfo }), 'paths');
});

test('node identity: the node name, with the kubernetes.io/hostname topology segment', (t) => {
  t.deepEqual(adapter.nodeIdentity(), { nodeId: 'worker-1', maxVolumesPerNode: 0, topology: { 'kubernetes.io/hostname': 'worker-1' } });
  t.throws(() => new KubernetesAdapter({ nodeName: '', kubeletDir: '/var/lib/kubelet' }), { message: /NODE_NAME/ });
  t.throws(() => new KubernetesAdapter({ nodeName: '$(NODE_NAME)', kubeletDir: '/var/lib/kubelet' }), { message: /not expanded.*spec\.nodeName/ });
});

test('target paths: only kubelet CSI volume mount paths under the kubelet dir', (t) => {
  const uid = '6f1a2b3c-0000-4000-8000-000000000001';
  t.notThrows(() => adapter.checkTargetPath(kubeletTargetPath('/var/lib/kubelet', uid, 'nix')));
  for (const bad of [
    '/tmp/x/mount',
    '/var/lib/kubeletX/pods/u/volumes/kubernetes.io~csi/nix/mount',
    `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~empty-dir/nix/mount`,
    `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~csi/nix`,
    `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~csi/nix/mount/deeper`,
    `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~csi/../mount`,
    `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~csi/./mount`,
    `/var/lib/kubelet/pods//volumes/kubernetes.io~csi/nix/mount`,
    'relative/pods/u/volumes/kubernetes.io~csi/nix/mount',
  ]) {
    invalid(t, () => adapter.checkTargetPath(bad), bad);
  }
  const moved = new KubernetesAdapter({ nodeName: 'n', kubeletDir: '/var/lib/k0s/kubelet/' });
  t.notThrows(() => moved.checkTargetPath(kubeletTargetPath('/var/lib/k0s/kubelet', uid, 'nix')));
  invalid(t, () => moved.checkTargetPath(kubeletTargetPath('/var/lib/kubelet', uid, 'nix')), '/var/lib/kubelet/pods');
});

test('staging paths: kubelet CSI globalmount paths only', (t) => {
  t.notThrows(() => adapter.checkStagingPath('/var/lib/kubelet/plugins/kubernetes.io/csi/nixmount.csi.nixos.dev/0123abcd/globalmount'));
  invalid(t, () => adapter.checkStagingPath('/var/lib/kubelet/plugins/other/globalmount'), '/var/lib/kubelet/plugins/other/globalmount');
});

test('the registry builds it as "kubernetes" with its kubelet-dir option', (t) => {
  const built = createAdapterFrom(BUILTIN_ADAPTERS.kubernetes, { nodeId: 'n1' }, { pairs: ['kubelet-dir=/srv/kubelet'], env: {} });
  t.is(built.name, 'kubernetes');
  t.notThrows(() => built.checkTargetPath('/srv/kubelet/pods/u/volumes/kubernetes.io~csi/v/mount'));
  t.notThrows(() => createAdapterFrom(BUILTIN_ADAPTERS.kubernetes, { nodeId: 'n1' }).checkTargetPath('/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v/mount'));
});

// Findings 3 and 4 for kubelet: a symlinked …/mount or parent was followed out of the kubelet dir,
// and unpublish checked no path at all.
test('the state dir and the store are protected below the kubelet dir too', (t) => {
  const kubelet = new KubernetesAdapter({ nodeName: 'n', kubeletDir: '/var/lib/kubelet', protectedDirs: ['/var/lib/kubelet/pods/state'] });
  invalid(t, () => kubelet.checkTargetPath('/var/lib/kubelet/pods/state/volumes/kubernetes.io~csi/v/mount'), 'which nixmount protects');
  t.is(kubelet.checkTargetPath('/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v/mount/'), '/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v/mount');
  t.is(kubelet.checkTargetPath('/var/lib/kubelet//pods/u/volumes/kubernetes.io~csi/v//mount'), '/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/v/mount');
});

test('the pod is read from a context the adapter refuses, so the refusal can be reported on it', (t) => {
  const refused = { ...podInfo, colour: 'blue', 'csi.storage.k8s.io/ephemeral': 'maybe' };
  t.throws(() => adapter.parseVolumeContext(refused), { instanceOf: InvalidArgumentError });
  t.deepEqual(adapter.workloadOf(refused), { pod: 'shop/web-0', podUid: '6f1a2b3c-0000-4000-8000-000000000001', serviceAccount: 'default' });
  t.deepEqual(adapter.workloadOf({ paths: STORE_PATH }), {});
});
