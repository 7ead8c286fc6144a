import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { lstat, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import { parseAllDocuments } from 'yaml';
import { mountCapability } from '../../helpers/csi-client.js';
import { pod, type PersistentVolume, type Pod, type PodClaimVolume } from '../../helpers/kubelet-harness.js';
import { mountOptionsAt } from '../../helpers/mounts.js';
import { buildFixture, type Fixture } from '../../helpers/nix.js';
import { startTestPlugin, type TestPlugin } from '../../helpers/plugin.js';
import { DRIVER_NAME, startKubeletNode, stateEntries, type KubeletNode } from './kubelet-node.js';

type Doc = Record<string, any>;

const EXAMPLES = fileURLToPath(new URL('../../../../manifests/controller/examples/', import.meta.url));
const PROVISIONER_IDENTITY = `1732245600000-8081-${DRIVER_NAME}`;

async function example(file: string, kind: string): Promise<Doc> {
  const docs = parseAllDocuments(await readFile(`${EXAMPLES}${file}`, 'utf8')).map((d) => d.toJS() as Doc);
  const doc = docs.find((d) => d?.kind === kind);
  if (!doc) throw new Error(`manifests/controller/examples/${file} has no ${kind}`);
  return doc;
}

/** The shipped StorageClass parameters, with every (placeholder) store path replaced by the fixture's root. */
function withFixture(parameters: Record<string, string>, fixture: Fixture): Record<string, string> {
  return Object.fromEntries(Object.entries(parameters).map(([key, value]) => [key, value.startsWith('/nix/store/') ? fixture.root : value]));
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

function dataFile(fixture: Fixture): string {
  return join(fixture.closure.find((path) => path.includes('fixture-data'))!, 'share/greeting');
}

interface Shipped {
  parameters: Record<string, string>;
  accessModes: string[];
  claimName: string;
  /** The example pod's claim volume: its name and readOnly. */
  podVolume: { name: string; readOnly: boolean };
}

async function shipped(fixture: Fixture): Promise<Shipped> {
  const storageClass = await example('storageclass.yaml', 'StorageClass');
  const claim = await example('pvc.yaml', 'PersistentVolumeClaim');
  const examplePod = await example('pod.yaml', 'Pod');
  const volume = (examplePod.spec.volumes as Doc[]).find((v) => v.persistentVolumeClaim?.claimName === claim.metadata.name);
  if (!volume) throw new Error('the example pod does not use the example claim');
  if (claim.spec.storageClassName !== storageClass.metadata.name) throw new Error('the example claim does not use the example StorageClass');
  return {
    parameters: withFixture(storageClass.parameters, fixture),
    accessModes: claim.spec.accessModes,
    claimName: claim.metadata.name,
    podVolume: { name: volume.name, readOnly: volume.persistentVolumeClaim.readOnly ?? false },
  };
}

/** What the external-provisioner sends for a claim: name pvc-<claim uid>, the class's parameters, the claim's access modes. */
function createRequest(name: string, s: Shipped) {
  const modes: Record<string, string> = { ReadWriteOnce: 'SINGLE_NODE_WRITER', ReadOnlyMany: 'MULTI_NODE_READER_ONLY', ReadWriteMany: 'MULTI_NODE_MULTI_WRITER' };
  return {
    name,
    parameters: s.parameters,
    volume_capabilities: s.accessModes.map((mode) => mountCapability(modes[mode])),
    capacity_range: { required_bytes: String(1024 * 1024), limit_bytes: '0' },
  };
}

/** The PV the provisioner writes from CreateVolume's answer. */
function persistentVolume(name: string, volume: Doc, s: Shipped): PersistentVolume {
  return {
    name,
    volumeHandle: volume.volume_id,
    volumeAttributes: { ...volume.volume_context, 'storage.kubernetes.io/csiProvisionerIdentity': PROVISIONER_IDENTITY },
    accessModes: s.accessModes,
  };
}

function claimPod(name: string, s: Shipped, pv: PersistentVolume): Pod {
  const volume: PodClaimVolume = { name: s.podVolume.name, readOnly: s.podVolume.readOnly, persistentVolume: pv };
  return pod({ name, volumes: [volume] });
}

/** Two pods on one node use the PV: two mounts, one view, the node store's inodes; deleting both leaves nothing. */
async function twoPodsUse(t: ExecutionContext, { node, kubelet }: KubeletNode, pv: PersistentVolume, s: Shipped, fixture: Fixture): Promise<void> {
  const pods = [claimPod('nix-hello-pvc-a', s, pv), claimPod('nix-hello-pvc-b', s, pv)];
  const request = await kubelet.publishRequest(pods[0]!, pods[0]!.volumes[0]!);
  t.like(request, { volume_id: pv.volumeHandle, staging_target_path: '', readonly: true });
  t.deepEqual((request.volume_capability as Doc).access_mode, { mode: 'MULTI_NODE_READER_ONLY' });
  t.is((request.volume_context as Doc)['csi.storage.k8s.io/ephemeral'], 'false');
  t.is((request.volume_context as Doc)['storage.kubernetes.io/csiProvisionerIdentity'], PROVISIONER_IDENTITY);

  for (const p of pods) t.deepEqual((await kubelet.startPod(p)).map((o) => o.code), [status.OK]);
  const targets = pods.map((p) => kubelet.targetPath(p, p.volumes[0]!));
  t.deepEqual(targets.map((target) => target.split('/').slice(-2, -1)[0]), [pv.name, pv.name], 'the directory is named after the PV');
  t.deepEqual((await kubelet.mounts()).sort(), [...targets].sort());
  t.is((await stateEntries(node, 'views')).length, 1);
  t.is((await stateEntries(node, 'volumes')).length, 2);
  const deviceMountPath = kubelet.deviceMountPath(DRIVER_NAME, pv);
  t.true(await exists(deviceMountPath), 'kubelet prepared the device directory');
  t.false((await kubelet.mounts()).includes(deviceMountPath), 'nothing staged there: the driver does not stage');

  const storeInode = (await stat(dataFile(fixture))).ino;
  for (const target of targets) {
    const inTarget = join(target, 'store', dataFile(fixture).slice('/nix/store/'.length));
    t.is(await readFile(inTarget, 'utf8'), 'greetings from the data path \n');
    t.is((await stat(inTarget)).ino, storeInode);
    t.true((await mountOptionsAt(target))?.includes('ro'));
  }
  for (const [i, record] of (await stateEntries(node, 'volumes')).entries()) {
    const saved = JSON.parse(await readFile(join(node.stateDir, 'volumes', record), 'utf8'));
    t.is(saved.volumeId, pv.volumeHandle, `record ${i}`);
    t.false('ephemeral' in saved, `record ${i}: lifetime is the adapter's to log, not the record's`);
  }

  for (const p of pods) t.deepEqual((await kubelet.deletePod(p)).map((o) => o.code), [status.OK]);
  t.deepEqual(await kubelet.mounts(), []);
  t.deepEqual(await stateEntries(node, 'volumes'), []);
  for (const target of targets) {
    t.false(await exists(target));
    t.false(await exists(dirname(target)));
  }
  t.false(await exists(dirname(deviceMountPath)), 'UnmountDevice removed the device directory');
}

async function provision(controller: TestPlugin, s: Shipped): Promise<{ name: string; volume: Doc }> {
  const name = `pvc-${randomUUID()}`;
  const { volume } = await controller.client.call('controller', 'CreateVolume', createRequest(name, s));
  return { name, volume };
}

test('a PVC-backed PV from the shipped StorageClass: two ReadOnlyMany pods on one node, then DeleteVolume', async (t) => {
  const fixture = await buildFixture();
  const s = await shipped(fixture);
  t.deepEqual(s.accessModes, ['ReadOnlyMany']);
  const controller = await startTestPlugin(t, { mode: 'controller', settings: { driverName: DRIVER_NAME } });
  const node = await startKubeletNode(t);
  await node.kubelet.register();

  const { name, volume } = await provision(controller, s);
  t.deepEqual(volume.volume_context, s.parameters);
  await twoPodsUse(t, node, persistentVolume(name, volume, s), s, fixture);

  t.is((await controller.client.code('controller', 'DeleteVolume', { volume_id: volume.volume_id })).code, status.OK);
  t.deepEqual((await controller.client.call('controller', 'ListVolumes', {})).entries, []);
});

test('a controller restart between CreateVolume and the publishes changes nothing', async (t) => {
  const fixture = await buildFixture();
  const s = await shipped(fixture);
  let controller = await startTestPlugin(t, { mode: 'controller', settings: { driverName: DRIVER_NAME } });
  const node = await startKubeletNode(t);
  await node.kubelet.register();

  const { name, volume } = await provision(controller, s);
  controller = await controller.restart();
  // The provisioner retries a CreateVolume it never saw answered: the same volume comes back.
  const again = await controller.client.call('controller', 'CreateVolume', createRequest(name, s));
  t.deepEqual(again.volume, volume);
  const listed = await controller.client.call('controller', 'ListVolumes', {});
  t.deepEqual(listed.entries.map((e: Doc) => e.volume.volume_id), [volume.volume_id]);
  const got = await controller.client.call('controller', 'ControllerGetVolume', { volume_id: volume.volume_id });
  t.deepEqual(got.volume.volume_context, volume.volume_context);

  await twoPodsUse(t, node, persistentVolume(name, again.volume, s), s, fixture);
  t.is((await controller.client.code('controller', 'DeleteVolume', { volume_id: volume.volume_id })).code, status.OK);
  t.deepEqual((await controller.client.call('controller', 'ListVolumes', {})).entries, []);
});
