import test from 'ava';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { NomadAdapter } from '../../../src/adapters/nomad/nomad-adapter.js';
import { readVolumeSpec } from '../../../src/adapters/nomad/tooling/volume-spec-file.js';
import { mountOptionsAt, mountsBelow } from '../../helpers/mounts.js';
import { buildFixture, type Fixture } from '../../helpers/nix.js';
import { createdVolume, createVolumeRequest, NomadClientSim, type NomadClaim } from '../../helpers/nomad-harness.js';
import { startTestPlugin, type TestPlugin } from '../../helpers/plugin.js';
import { tempDir } from '../../helpers/temp.js';
import { allocId, JOBS_DIR } from './shipped-jobs.js';

const FILE = 'nix-hello-created.volume.hcl';

async function entries(plugin: TestPlugin, subdir: string): Promise<string[]> {
  return (await readdir(join(plugin.stateDir, subdir)).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

/** jobs/nix-hello-created.volume.hcl read with the project's HCL reader; its (machine-specific) store paths become the fixture's root. */
async function shippedCreateSpec(fixture: Fixture) {
  const spec = readVolumeSpec(await readFile(`${JOBS_DIR}${FILE}`, 'utf8'), `jobs/${FILE}`);
  const parameters = Object.fromEntries(Object.entries(spec.parameters).map(([key, value]) => [key, value.startsWith('/nix/store/') ? fixture.root : value]));
  return { ...spec, parameters };
}

test('nomad volume create through the controller, then two allocations on one node: one staged view, two mounts, nothing left', async (t) => {
  const fixture = await buildFixture();
  const spec = await shippedCreateSpec(fixture);
  t.is(spec.type, 'csi');
  t.deepEqual(spec.context, {}, 'the context comes from CreateVolume');

  const controller = await startTestPlugin(t, { mode: 'controller' });
  const { volume: created } = await controller.client.call('controller', 'CreateVolume', createVolumeRequest(spec));
  t.deepEqual(created.volume_context, spec.parameters);
  t.not(created.volume_id, spec.id, 'the CSI volume id is the controller\'s, not the Nomad id');
  const volume = createdVolume(spec, created);

  const base = join(await tempDir(t), 'csi');
  const node = await startTestPlugin(t, { adapter: new NomadAdapter('nomad-node-1', base), settings: { nodeId: 'nomad-node-1' } });
  const sim = new NomadClientSim(node.client, base);
  await sim.fingerprint();

  // A job claiming the volume read-only with the spec's first capability.
  const capability = spec.capabilities[0]!;
  t.is(capability.accessMode, 'multi-node-reader-only');
  const claim: NomadClaim = { readOnly: true, accessMode: capability.accessMode!, attachmentMode: capability.attachmentMode! };
  const allocs = [await sim.startAllocation(allocId(), volume, claim), await sim.startAllocation(allocId(), volume, claim)];
  t.is(sim.calls.filter((c) => c === 'NodeStageVolume').length, 1);
  t.is(sim.calls.filter((c) => c === 'NodePublishVolume').length, 2);
  for (const alloc of allocs) t.is(alloc.volumeId, created.volume_id);
  const stagingPath = allocs[0]!.stagingPath!;
  t.is(stagingPath, join(base, 'staging/default', spec.id!, 'ro-file-system-multi-node-reader-only'), 'paths use the Nomad id');
  t.deepEqual((await mountsBelow(base)).sort(), [stagingPath, ...allocs.map((a) => a.targetPath)].sort());
  t.is((await entries(node, 'views')).length, 1);
  t.is((await entries(node, 'stages')).length, 1);
  t.is((await entries(node, 'volumes')).length, 2);

  const data = join(fixture.closure.find((p) => p.includes('fixture-data'))!, 'share/greeting');
  const storeInode = (await stat(data)).ino;
  for (const alloc of allocs) {
    const inTarget = join(alloc.targetPath, 'store', data.slice('/nix/store/'.length));
    t.is(await readFile(inTarget, 'utf8'), 'greetings from the data path \n');
    t.is((await stat(inTarget)).ino, storeInode);
    t.true((await mountOptionsAt(alloc.targetPath))?.includes('ro'));
  }

  t.deepEqual(await sim.stopAllocation(allocs[0]!.allocId), { unstaged: false });
  t.deepEqual(await sim.stopAllocation(allocs[1]!.allocId), { unstaged: true });
  t.deepEqual(await mountsBelow(base), []);
  for (const alloc of allocs) t.false(await exists(alloc.targetPath));
  t.deepEqual(await entries(node, 'volumes'), []);
  t.deepEqual(await entries(node, 'stages'), []);
  t.deepEqual(await entries(node, 'views'), []); // view-idle 0: collected at once

  // nomad volume delete: the controller forgets the volume.
  t.is((await controller.client.code('controller', 'DeleteVolume', { volume_id: created.volume_id })).code, status.OK);
  t.deepEqual((await controller.client.call('controller', 'ListVolumes', {})).entries, []);
});
