import test from 'ava';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { pod, type Pod } from '../../helpers/kubelet-harness.js';
import { mountOptionsAt } from '../../helpers/mounts.js';
import { buildFixture, type Fixture } from '../../helpers/nix.js';
import { DRIVER_NAME, NODE_NAME, startKubeletNode, stateEntries } from './kubelet-node.js';
import { exists } from '../../../support/fs.js';

function nixPod(name: string, fixture: Fixture, readOnly = true): Pod {
  return pod({ name, volumes: [{ name: 'nix', readOnly, volumeAttributes: { paths: fixture.root } }] });
}


function greetingIn(target: string, fixture: Fixture): string {
  const data = fixture.closure.find((path) => path.includes('fixture-data'))!;
  return join(target, 'store', data.slice('/nix/store/'.length), 'share/greeting');
}

test('registration: GetPluginInfo names the driver, NodeGetInfo the node and its hostname topology', async (t) => {
  const { kubelet } = await startKubeletNode(t);
  t.deepEqual(await kubelet.register(), {
    driverName: DRIVER_NAME,
    nodeId: NODE_NAME,
    topology: { 'kubernetes.io/hostname': NODE_NAME },
    maxVolumes: '0',
  });
});

test('ten pods asking for the same closure: ten mounts, one view, inodes shared with the node store', async (t) => {
  const fixture = await buildFixture();
  const { node, kubelet } = await startKubeletNode(t);
  await kubelet.register();
  const pods = Array.from({ length: 10 }, (_, i) => nixPod(`app-${i}`, fixture));
  const outcomes = await Promise.all(pods.map((p) => kubelet.startPod(p)));
  t.deepEqual(outcomes.flat().map((o) => o.code), Array(10).fill(status.OK));

  const targets = pods.map((p) => kubelet.targetPath(p, p.volumes[0]!)).sort();
  t.deepEqual((await kubelet.mounts()).sort(), targets);
  t.is((await stateEntries(node, 'views')).length, 1);
  t.is((await stateEntries(node, 'volumes')).length, 10);
  const storeInode = (await stat(join(fixture.closure.find((p) => p.includes('fixture-data'))!, 'share/greeting'))).ino;
  for (const target of targets) {
    t.is(await readFile(greetingIn(target, fixture), 'utf8'), 'greetings from the data path \n');
    t.is((await stat(greetingIn(target, fixture))).ino, storeInode);
  }
  for (const p of pods) t.deepEqual((await kubelet.deletePod(p)).map((o) => o.code), [status.OK]);
  t.deepEqual(await kubelet.mounts(), []);
});

test('pods asking for different closures get different views', async (t) => {
  const [a, b] = await Promise.all([buildFixture(), buildFixture('-k8s-other')]);
  const { node, kubelet } = await startKubeletNode(t);
  const podA = nixPod('a', a);
  const podB = nixPod('b', b);
  t.deepEqual((await kubelet.startPod(podA)).map((o) => o.code), [status.OK]);
  t.deepEqual((await kubelet.startPod(podB)).map((o) => o.code), [status.OK]);
  t.is((await stateEntries(node, 'views')).length, 2);
  t.is(await readFile(greetingIn(kubelet.targetPath(podB, podB.volumes[0]!), b), 'utf8'), 'greetings from the data path -k8s-other\n');
  t.false(await exists(greetingIn(kubelet.targetPath(podB, podB.volumes[0]!), a)));
});

test('read-only pods cannot write (EROFS); read-write pods each write to their own overlay', async (t) => {
  const fixture = await buildFixture();
  const { kubelet } = await startKubeletNode(t);
  const ro = nixPod('ro', fixture, true);
  const rw1 = nixPod('rw1', fixture, false);
  const rw2 = nixPod('rw2', fixture, false);
  for (const p of [ro, rw1, rw2]) t.deepEqual((await kubelet.startPod(p)).map((o) => o.code), [status.OK]);

  const roTarget = kubelet.targetPath(ro, ro.volumes[0]!);
  t.true((await mountOptionsAt(roTarget))?.includes('ro'));
  const error = (await writeFile(join(roTarget, 'var/new-file'), 'x').catch((e: NodeJS.ErrnoException) => e)) as NodeJS.ErrnoException;
  t.is(error.code, 'EROFS');

  const rw1Target = kubelet.targetPath(rw1, rw1.volumes[0]!);
  const rw2Target = kubelet.targetPath(rw2, rw2.volumes[0]!);
  await writeFile(join(rw1Target, 'var/written-by-rw1'), 'mine');
  t.is(await readFile(join(rw1Target, 'var/written-by-rw1'), 'utf8'), 'mine');
  t.false(await exists(join(rw2Target, 'var/written-by-rw1')));
  t.false(await exists(join(roTarget, 'var/written-by-rw1')));
});

test('pod deletion leaves no mount, no target dir, no record, no view; a repeated unpublish is OK (kubernetes#90752)', async (t) => {
  const fixture = await buildFixture();
  const { node, kubelet } = await startKubeletNode(t);
  const ro = nixPod('ro', fixture, true);
  const rw = nixPod('rw', fixture, false);
  for (const p of [ro, rw]) t.deepEqual((await kubelet.startPod(p)).map((o) => o.code), [status.OK]);
  t.is((await kubelet.mounts()).length, 2);

  for (const p of [ro, rw]) {
    t.deepEqual((await kubelet.deletePod(p)).map((o) => o.code), [status.OK]);
    const target = kubelet.targetPath(p, p.volumes[0]!);
    t.false(await exists(target));
    t.false(await exists(dirname(target)));
    t.false(await exists(kubelet.podDir(p)));
    // kubelet may send NodeUnpublishVolume again (a retry after a lost answer, a restart): still OK.
    t.is((await kubelet.unmountVolume(p, p.volumes[0]!)).code, status.OK);
  }
  t.deepEqual(await kubelet.mounts(), []);
  t.deepEqual(await stateEntries(node, 'volumes'), []);
  t.deepEqual(await stateEntries(node, 'overlays'), []);
  t.deepEqual(await stateEntries(node, 'views'), []); // viewIdleMs 0 in tests: collected on release
  t.deepEqual(await readdir(join(kubelet.kubeletDir, 'pods')), []);
});

test('a repeated publish of a mounted volume is OK and mounts nothing more', async (t) => {
  const fixture = await buildFixture();
  const { kubelet } = await startKubeletNode(t);
  const p = nixPod('again', fixture);
  t.deepEqual(await kubelet.mountVolume(p, p.volumes[0]!), { code: status.OK, details: '' });
  t.deepEqual(await kubelet.mountVolume(p, p.volumes[0]!), { code: status.OK, details: '' });
  t.deepEqual(await kubelet.mounts(), [kubelet.targetPath(p, p.volumes[0]!)]);
});

test('invalid attributes: INVALID_ARGUMENT naming the key, the same on every retry, and no side effects', async (t) => {
  const fixture = await buildFixture();
  const { node, kubelet } = await startKubeletNode(t);
  const cases: Array<[Record<string, string>, string]> = [
    [{ paths: fixture.root, pahts: fixture.root }, '"pahts"'],
    [{ paths: '/usr/bin' }, 'paths'],
    [{ 'x86_64-linux': 'not-a-path' }, 'x86_64-linux'],
    [{}, 'names no closure'],
  ];
  for (const [attributes, named] of cases) {
    const p = pod({ name: 'bad', volumes: [{ name: 'nix', readOnly: true, volumeAttributes: attributes }] });
    const outcomes = await kubelet.mountVolumeWithRetries(p, p.volumes[0]!, 3);
    t.is(outcomes.length, 3);
    for (const outcome of outcomes) {
      t.is(outcome.code, status.INVALID_ARGUMENT);
      t.true(outcome.details.includes(named), `"${outcome.details}" should name ${named}`);
      t.is(outcome.details, outcomes[0]!.details);
    }
    const target = kubelet.targetPath(p, p.volumes[0]!);
    t.false(await exists(target));
    t.false(await exists(dirname(target))); // kubelet removed its own dir after a final error; nothing of ours was in it
    t.deepEqual((await kubelet.deletePod(p)).map((o) => o.code), [status.OK]);
  }
  t.deepEqual(await kubelet.mounts(), []);
  t.deepEqual(await stateEntries(node, 'views'), []);
  t.deepEqual(await stateEntries(node, 'volumes'), []);
  t.deepEqual(await stateEntries(node, 'overlays'), []);
});

test('a target outside kubelet pod volume paths is INVALID_ARGUMENT naming the path', async (t) => {
  const fixture = await buildFixture();
  const { node, kubelet } = await startKubeletNode(t);
  const target = join(node.dir, 'elsewhere/mount');
  const outcome = await node.client.code('node', 'NodePublishVolume', {
    volume_id: 'csi-x',
    target_path: target,
    volume_capability: { mount: { fs_type: '', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
    readonly: true,
    volume_context: { paths: fixture.root },
  });
  t.is(outcome.code, status.INVALID_ARGUMENT);
  t.true(outcome.details.includes(target));
  t.deepEqual(await kubelet.mounts(), []);
});

test('NodeUnpublishVolume for a volume the plugin never published is OK', async (t) => {
  const { kubelet } = await startKubeletNode(t);
  const p = pod({ name: 'never', volumes: [{ name: 'nix', volumeAttributes: { paths: '/nix/store/00000000000000000000000000000000-x' } }] });
  t.is((await kubelet.unmountVolume(p, p.volumes[0]!)).code, status.OK);
});

test('the harness publishes as kubelet does: volume id, access mode from the advertised capabilities, pod info in the context', async (t) => {
  const fixture = await buildFixture();
  const { node, kubelet } = await startKubeletNode(t);
  const p = nixPod('shape', fixture);
  const request = await kubelet.publishRequest(p, p.volumes[0]!);
  t.regex(String(request.volume_id), /^csi-[0-9a-f]{64}$/);
  t.is(request.target_path, join(kubelet.kubeletDir, 'pods', p.uid, 'volumes/kubernetes.io~csi/nix/mount'));
  t.deepEqual((request.volume_capability as any).access_mode, { mode: 'SINGLE_NODE_MULTI_WRITER' }); // the plugin advertises it
  t.is((request.volume_context as Record<string, string>)['csi.storage.k8s.io/ephemeral'], 'true');
  t.is((request.volume_context as Record<string, string>)['csi.storage.k8s.io/pod.uid'], p.uid);

  t.is((await kubelet.mountVolume(p, p.volumes[0]!)).code, status.OK);
  const [recordFile] = await stateEntries(node, 'volumes');
  const record = JSON.parse(await readFile(join(node.stateDir, 'volumes', recordFile!), 'utf8'));
  t.is(record.volumeId, request.volume_id);
  t.is(record.accessMode, 'single-node-multi-writer');
  t.false('ephemeral' in record, "lifetime is the adapter's to log, not the record's");
  const volData = JSON.parse(await readFile(join(dirname(kubelet.targetPath(p, p.volumes[0]!)), 'vol_data.json'), 'utf8'));
  t.is(volData.volumeHandle, request.volume_id);
  t.is(volData.driverName, DRIVER_NAME);
});
