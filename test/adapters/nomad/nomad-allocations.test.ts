import test from 'ava';
import { readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NomadAdapter } from '../../../src/adapters/nomad/nomad-adapter.js';
import { mountOptionsAt, mountsBelow } from '../../helpers/mounts.js';
import { buildFixture } from '../../helpers/nix.js';
import { NomadClientSim } from '../../helpers/nomad-harness.js';
import { startTestPlugin } from '../../helpers/plugin.js';
import { tempDir } from '../../helpers/temp.js';
import { allocId, csiClaim, group, shippedJob, shippedVolume } from './shipped-jobs.js';

async function nomadNode(t: Parameters<typeof startTestPlugin>[0], nodeId = 'nomad-node-1') {
  const base = join(await tempDir(t), 'csi');
  const node = await startTestPlugin(t, { adapter: new NomadAdapter(nodeId, base), settings: { nodeId } });
  const sim = new NomadClientSim(node.client, base);
  await sim.fingerprint();
  return { node, sim, base };
}

const storeName = (path: string) => path.slice('/nix/store/'.length);

test('fingerprinting follows Nomad: identity, node id, topology segment, staging advertised', async (t) => {
  const { sim } = await nomadNode(t, 'c0ffee-node');
  t.deepEqual(sim.calls, ['Probe', 'GetPluginInfo', 'GetPluginCapabilities', 'NodeGetInfo', 'Probe', 'NodeGetCapabilities']);
  t.is(sim.nodeInfo?.node_id, 'c0ffee-node');
  t.deepEqual(sim.nodeInfo?.accessible_topology?.segments, { nixmount_node: 'c0ffee-node' });
  t.deepEqual(sim.pluginCapabilities, ['VOLUME_ACCESSIBILITY_CONSTRAINTS']);
  t.true(sim.nodeCapabilities.includes('STAGE_UNSTAGE_VOLUME'));
  t.false(sim.pluginCapabilities.includes('CONTROLLER_SERVICE'));
});

test('three multi-node-reader-only allocations share one staged view; the last to stop unstages', async (t) => {
  const fixture = await buildFixture();
  const { node, sim, base } = await nomadNode(t);
  const job = await shippedJob('example-app.nomad.hcl');
  const hello = group(job, 'hello');
  const { source, claim } = csiClaim(hello);
  const volume = await shippedVolume('hello.volume.hcl', fixture.root);
  t.is(volume.id, source);
  t.is(claim.accessMode, 'multi-node-reader-only');
  t.is(hello.count, 3);

  const allocs = [];
  for (let i = 0; i < hello.count; i++) allocs.push(await sim.startAllocation(allocId(), volume, claim));
  t.is(sim.calls.filter((c) => c === 'NodeStageVolume').length, 1);
  t.is(sim.calls.filter((c) => c === 'NodePublishVolume').length, 3);
  const stagingPath = allocs[0]!.stagingPath!;
  t.is(stagingPath, join(base, 'staging/default/nix-hello/ro-file-system-multi-node-reader-only'));
  t.is(allocs[1]!.targetPath, join(base, 'per-alloc', allocs[1]!.allocId, 'nix-hello/ro-file-system-multi-node-reader-only'));
  t.deepEqual((await mountsBelow(base)).sort(), [stagingPath, ...allocs.map((a) => a.targetPath)].sort());
  t.is((await readdir(join(node.stateDir, 'views'))).filter((n) => !n.startsWith('.')).length, 1);

  // The task runs /nix/var/result/bin/hello: in every allocation it is the fixture's program, same inode as the node store.
  const task = hello.tasks[0]!;
  const mount = task.volumeMounts[0]!;
  t.is(mount.destination, '/nix');
  const command = String(task.config.command);
  t.is(command, '/nix/var/result/bin/hello');
  const hostHello = join(fixture.root, 'bin/hello');
  for (const alloc of allocs) {
    t.is(await readlink(join(alloc.targetPath, 'var/result')), fixture.root);
    const inVolume = join(alloc.targetPath, 'store', storeName(fixture.root), 'bin/hello');
    t.is((await stat(inVolume)).ino, (await stat(hostHello)).ino);
    t.true((await mountOptionsAt(alloc.targetPath))!.includes('ro'));
  }

  t.deepEqual(await sim.stopAllocation(allocs[0]!.allocId), { unstaged: false });
  t.deepEqual((await mountsBelow(base)).sort(), [stagingPath, allocs[1]!.targetPath, allocs[2]!.targetPath].sort());
  t.is(await readFile(join(allocs[1]!.targetPath, 'store', storeName(fixture.root), 'bin/hello'), 'utf8'), await readFile(hostHello, 'utf8'));
  t.deepEqual(await sim.stopAllocation(allocs[1]!.allocId), { unstaged: false });
  t.deepEqual(await sim.stopAllocation(allocs[2]!.allocId), { unstaged: true });
  t.deepEqual(await mountsBelow(base), []);
  t.deepEqual(await readdir(join(node.stateDir, 'stages')), []);
  t.deepEqual((await readdir(join(node.stateDir, 'views'))).filter((n) => !n.startsWith('.')), []); // view-idle 0: collected at once
  t.is(sim.calls.at(-1), 'NodeUnstageVolume');
});

test('single-node-writer per_alloc volumes: each allocation gets its own read-write overlay', async (t) => {
  const fixture = await buildFixture();
  const { node, sim, base } = await nomadNode(t);
  const job = await shippedJob('example-app.nomad.hcl');
  const scratch = group(job, 'scratch');
  const { source, perAlloc, claim } = csiClaim(scratch);
  t.true(perAlloc);
  t.is(claim.accessMode, 'single-node-writer');
  t.false(claim.readOnly);

  const allocs = [];
  for (let index = 0; index < scratch.count; index++) {
    const volume = await shippedVolume(`dev-scratch-${index}.volume.hcl`, fixture.root);
    t.is(volume.id, `${source}[${index}]`); // per_alloc claims <source>[<alloc index>]
    allocs.push(await sim.startAllocation(allocId(), volume, claim));
  }
  t.is(sim.calls.filter((c) => c === 'NodeStageVolume').length, scratch.count);
  t.is((await readdir(join(node.stateDir, 'views'))).filter((n) => !n.startsWith('.')).length, 1); // one closure, one view

  const [a, b] = allocs;
  t.true(a!.targetPath.endsWith('/nix-scratch[0]/rw-file-system-single-node-writer'));
  t.false((await mountOptionsAt(a!.targetPath))!.includes('ro'));
  await writeFile(join(a!.targetPath, 'scratch-0'), 'mine');
  t.is(await readFile(join(a!.targetPath, 'scratch-0'), 'utf8'), 'mine');
  await t.throwsAsync(stat(join(b!.targetPath, 'scratch-0')), { code: 'ENOENT' });
  await t.throwsAsync(stat(join(a!.stagingPath!, 'scratch-0')), { code: 'ENOENT' }); // the staged view stays read-only and clean
  t.is(await readlink(join(b!.targetPath, 'var/result')), fixture.root);

  for (const alloc of allocs) t.deepEqual(await sim.stopAllocation(alloc.allocId), { unstaged: true });
  t.deepEqual(await mountsBelow(base), []);
  t.deepEqual(await readdir(join(node.stateDir, 'overlays')), []);
});
