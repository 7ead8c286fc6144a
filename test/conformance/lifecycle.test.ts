import test from 'ava';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { mountCapability } from '../helpers/csi-client.js';
import { mountsBelow } from '../helpers/mounts.js';
import { buildFixture } from '../helpers/nix.js';
import { startTestPlugin, type TestPlugin } from '../helpers/plugin.js';
import { controllerRecords, createRequest, nodeCapabilities } from './requests.js';

const greetingFor = (salt: string) => `greetings from the data path ${salt}\n`;

/** What an orchestrator does on a node for a created volume: stage (if advertised), then publish, from volume_context only. */
async function publishOnNode(node: TestPlugin, volume: { volume_id: string; volume_context: Record<string, string> }, target: string, staging: string) {
  const capability = mountCapability('MULTI_NODE_READER_ONLY');
  const stages = (await nodeCapabilities(node)).includes('STAGE_UNSTAGE_VOLUME');
  if (stages) {
    await node.client.call('node', 'NodeStageVolume', { volume_id: volume.volume_id, staging_target_path: staging, volume_capability: capability, volume_context: volume.volume_context });
  }
  await node.client.call('node', 'NodePublishVolume', {
    volume_id: volume.volume_id,
    staging_target_path: stages ? staging : '',
    target_path: target,
    volume_capability: capability,
    readonly: true,
    volume_context: volume.volume_context,
  });
  return stages;
}

async function greeting(target: string, closure: string[]): Promise<string> {
  const data = closure.find((path) => path.includes('fixture-data'))!;
  return readFile(join(target, 'store', data.slice('/nix/store/'.length), 'share/greeting'), 'utf8');
}

test('separate controller and node: create → publish on two targets → controller restart → unpublish → delete', async (t) => {
  // A fixture per test: concurrent plugins rooting one view in the shared host store collide.
  const salt = '-conformance-split';
  const GREETING = greetingFor(salt);
  const fixture = await buildFixture(salt);
  let controller = await startTestPlugin(t, { mode: 'controller' });
  const node = await startTestPlugin(t, { mode: 'node' });
  const staging = join(node.dir, 'staging/vol');
  const targets = [join(node.dir, 'alloc-1/mount'), join(node.dir, 'alloc-2/mount')];
  for (const target of targets) await mkdir(join(target, '..'), { recursive: true });

  const request = createRequest('pvc-lifecycle', { paths: fixture.root }, { capacity_range: { required_bytes: '1073741824', limit_bytes: '0' } });
  const { volume } = await controller.client.call('controller', 'CreateVolume', request);
  const stages = await publishOnNode(node, volume, targets[0]!, staging);
  t.is(await greeting(targets[0]!, fixture.closure), GREETING);

  // The controller restarts (a rollout, a rescheduled pod): nothing changes for the user.
  controller = await controller.restart();
  const retried = await controller.client.call('controller', 'CreateVolume', request);
  t.deepEqual(retried.volume, volume);
  t.deepEqual((await controller.client.call('controller', 'ControllerGetVolume', { volume_id: volume.volume_id })).volume, volume);
  t.deepEqual((await controller.client.call('controller', 'ListVolumes', {})).entries.map((e: any) => e.volume), [volume]);
  t.is((await controller.client.code('controller', 'CreateVolume', createRequest('pvc-lifecycle', { paths: fixture.closure[0]! }))).code, status.ALREADY_EXISTS);
  t.truthy((await controller.client.call('controller', 'ValidateVolumeCapabilities', { volume_id: volume.volume_id, volume_capabilities: [mountCapability('MULTI_NODE_READER_ONLY')] })).confirmed);

  // The second workload is published after the restart, from the same volume context alone.
  await publishOnNode(node, volume, targets[1]!, staging);
  t.is(await greeting(targets[1]!, fixture.closure), GREETING);
  t.deepEqual((await mountsBelow(node.dir)).filter((p) => targets.includes(p)).sort(), [...targets].sort());

  for (const target of targets) {
    await node.client.call('node', 'NodeUnpublishVolume', { volume_id: volume.volume_id, target_path: target });
    t.is(await stat(target).catch(() => 'gone'), 'gone');
  }
  if (stages) await node.client.call('node', 'NodeUnstageVolume', { volume_id: volume.volume_id, staging_target_path: staging });
  t.deepEqual(await mountsBelow(node.dir), []);

  await controller.client.call('controller', 'DeleteVolume', { volume_id: volume.volume_id });
  t.deepEqual(await controllerRecords(controller), []);
  t.is((await controller.client.code('controller', 'ValidateVolumeCapabilities', { volume_id: volume.volume_id, volume_capabilities: [mountCapability()] })).code, status.NOT_FOUND);
  controller = await controller.restart();
  t.deepEqual((await controller.client.call('controller', 'ListVolumes', {})).entries, []);
  t.is((await controller.client.code('controller', 'DeleteVolume', { volume_id: volume.volume_id })).code, status.OK);
});

test('monolith: a restart of the whole plugin keeps the volume, its mounts, and lets them be unpublished', async (t) => {
  const salt = '-conformance-mono';
  const GREETING = greetingFor(salt);
  const fixture = await buildFixture(salt);
  let plugin = await startTestPlugin(t, { mode: 'monolith' });
  const staging = join(plugin.dir, 'staging/vol');
  const targets = [join(plugin.dir, 'pod-1/mount'), join(plugin.dir, 'pod-2/mount')];
  for (const target of targets) await mkdir(join(target, '..'), { recursive: true });

  const { volume } = await plugin.client.call('controller', 'CreateVolume', createRequest('mono', { paths: fixture.root }));
  const stages = await publishOnNode(plugin, volume, targets[0]!, staging);
  plugin = await plugin.restart();
  t.is(await greeting(targets[0]!, fixture.closure), GREETING);
  await publishOnNode(plugin, volume, targets[1]!, staging);
  // Publishing again after the restart is the idempotent OK.
  await publishOnNode(plugin, volume, targets[0]!, staging);
  for (const target of targets) await plugin.client.call('node', 'NodeUnpublishVolume', { volume_id: volume.volume_id, target_path: target });
  if (stages) await plugin.client.call('node', 'NodeUnstageVolume', { volume_id: volume.volume_id, staging_target_path: staging });
  t.deepEqual(await mountsBelow(plugin.dir), []);
  await plugin.client.call('controller', 'DeleteVolume', { volume_id: volume.volume_id });
  t.deepEqual((await plugin.client.call('controller', 'ListVolumes', {})).entries, []);
});
