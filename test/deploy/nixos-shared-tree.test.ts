import test, { type ExecutionContext } from 'ava';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readMountInfo } from '../../src/platform/mountinfo.js';
import { execa } from 'execa';
import { status } from '@grpc/grpc-js';
import { KubeletHarness, pod } from '../helpers/kubelet-harness.js';
import { mountsBelow } from '../helpers/mounts.js';
import { buildFixture, nixEnv, type Fixture } from '../helpers/nix.js';
import { NomadClientSim } from '../helpers/nomad-harness.js';
import { assertOk, node as hostVolumeNode, request } from '../adapters/nomad-host/host-volume-node.js';
import { allocId, csiClaim, group, shippedJob, shippedVolume } from '../adapters/nomad/shipped-jobs.js';
import { addServeFlags, CLI, daemonSetPluginArgs, hostMountsAt, hostMountsBelow, nixosNode, nomadJobArgs, setFlag, sharedDir, startInOwnNamespace, type NixosNode } from './nixos-node.js';

// A systemd host's / is a shared mount, so on a real NixOS node the store's read-only bind
// of itself has propagation peers. Each way the plugin is shipped to start, on such a tree
// (`mount --bind D D; mount --make-shared D`, a chroot store below it whose nix/store is a
// read-only bind of itself), publishes read-only and read-write volumes that share the
// store's inodes, and the host's mount table below D stays as it was, but for the volume
// targets: the store's bind is still there, still read-only. The host volume plugin runs
// in the host's namespace as Nomad starts it. Serial: real mounts and Nix.

function dataFile(fixture: Fixture): string {
  const data = fixture.closure.find((path) => path.includes('fixture-data'))!;
  return join(data.slice('/nix/store/'.length), 'share/greeting');
}

/**
 * The state dir's staging mounts: a view's read-only bind, made before a target is bound
 * from it, kept while the view lives (warm publishes reuse it). The plugin's own, in its
 * own directory; they are left out of every comparison.
 */
function staging(node: NixosNode): string {
  return join(node.root, 'nix/var/nixmount/.mounting');
}

/**
 * The bind farms of read-only volumes' views: one read-only bind per store path, in the
 * plugin's own views directory, made and undone by it alone; left out of every comparison
 * like the staging mounts, but checked to be read-only wherever they are (farmBindsReadOnly).
 */
function views(node: NixosNode): string {
  return join(node.root, 'nix/var/nixmount/views');
}

async function sharedNode(t: ExecutionContext, fixture: Fixture): Promise<NixosNode> {
  const node = await nixosNode(t, [fixture.root], { shared: true });
  t.regex((await hostMountsBelow(node.root)).join('\n'), /shared:\d+/, 'the simulated node\'s tree is shared');
  return node;
}

/** The host's bind of its store: one mount, read-only, and every other mount below the node as it was. */
async function assertHostUnchanged(t: ExecutionContext, node: NixosNode, before: string[], targets: string[], when: string): Promise<void> {
  const store = await hostMountsAt(node.store);
  t.is(store.length, 1, `${when}: the host still has its bind of the store`);
  t.true(store[0]?.includes('ro'), `${when}: the host's bind of the store is still read-only`);
  t.regex((await execa('findmnt', ['-n', '-o', 'OPTIONS', node.store])).stdout, /^ro[,\s]/, `${when}: findmnt agrees`);
  t.deepEqual(await hostMountsBelow(node.root, targets), before, `${when}: nothing else in the host's mount table changed`);
  const farm = (await readMountInfo()).filter((entry) => entry.mountPoint.startsWith(`${views(node)}/`));
  // What the host sees of a farm: never a store path it could write through. (A plugin in a namespace
  // of its own shows the host only the farm's store directory, its own, bound onto itself; the binds
  // below it are private.)
  const writable = farm.filter((entry) => !entry.root.startsWith(views(node)) && !['ro', 'nosuid', 'nodev'].every((flag) => entry.options.includes(flag)));
  t.deepEqual(writable.map((entry) => `${entry.mountPoint} (${entry.root})`), [], `${when}: every store path bound in a view's farm is ro,nosuid,nodev`);
}

test.serial('shared tree, shipped DaemonSet args (container namespace): RO and RW publish share the store\'s inodes; the host\'s store bind stays read-only and its mounts unchanged', async (t) => {
  const fixture = await buildFixture('-nixos-shared');
  const node = await sharedNode(t, fixture);
  const kubeletDir = join(node.root, 'var/lib/kubelet');
  await sharedDir(kubeletDir);
  await mkdir(join(kubeletDir, 'pods'), { recursive: true });
  const targets = [join(kubeletDir, 'pods'), join(kubeletDir, 'plugins'), staging(node), views(node)];
  const before = await hostMountsBelow(node.root, targets);
  let args = await daemonSetPluginArgs();
  t.is(args[0], 'own-store');
  args = setFlag(args, 'store-dir', node.store);
  args = setFlag(args, 'state-dir', join(node.root, 'nix/var/nixmount'));
  args = setFlag(args, 'kubelet-dir', kubeletDir);
  args = setFlag(args, 'endpoint', `unix://${node.root}/csi.sock`);
  args = setFlag(args, 'node-id', 'nixos-shared');
  const plugin = await startInOwnNamespace(t, addServeFlags(args, [`--store=local?root=${node.root}`]), join(node.root, 'csi.sock'));
  await assertHostUnchanged(t, node, before, targets, 'after start');
  const kubelet = new KubeletHarness({ client: plugin.client, kubeletDir, nodeName: 'nixos-shared' });
  await kubelet.register();
  const ro = pod({ name: 'ro', volumes: [{ name: 'nix', readOnly: true, volumeAttributes: { paths: fixture.root } }] });
  const rw = pod({ name: 'rw', volumes: [{ name: 'nix', readOnly: false, volumeAttributes: { paths: fixture.root } }] });
  for (const p of [ro, rw]) t.deepEqual((await kubelet.startPod(p)).map((o) => [o.code, o.details]), [[status.OK, '']]);
  const storeInode = (await stat(join(node.store, dataFile(fixture)))).ino;
  for (const p of [ro, rw]) {
    const file = join(kubelet.targetPath(p, p.volumes[0]!), 'store', dataFile(fixture));
    t.is(await readFile(file, 'utf8'), 'greetings from the data path -nixos-shared\n');
    t.is((await stat(file)).ino, storeInode, 'hardlinked to the node store');
  }
  await assertHostUnchanged(t, node, before, targets, 'while published');
  t.regex((await execa('touch', [join(node.store, 'written-by-the-host')], { reject: false })).stderr, /Read-only file system/);
  for (const p of [ro, rw]) t.deepEqual((await kubelet.deletePod(p)).map((o) => o.code), [status.OK]);
  t.deepEqual(await mountsBelow(join(kubeletDir, 'pods')), []);
  await assertHostUnchanged(t, node, before, [staging(node), views(node)], 'after unpublishing');
});

async function nomadModeTest(t: ExecutionContext, file: string, namespace: 'own' | 'host'): Promise<void> {
  const fixture = await buildFixture('-nixos-shared');
  const node = await sharedNode(t, fixture);
  const base = join(node.root, 'local/csi');
  await sharedDir(base);
  const targets = [base, staging(node), views(node)];
  const before = await hostMountsBelow(node.root, targets);
  let args = await nomadJobArgs(file);
  t.is(args[0], 'own-store');
  args = args.map((a) => (a === '${node.unique.id}' ? 'nomad-nixos-shared' : a));
  args = setFlag(args, 'store-dir', node.store);
  args = setFlag(args, 'state-dir', join(node.root, 'nix/var/nixmount'));
  args = setFlag(args, 'stage-publish-base-dir', base);
  const socket = join(node.root, 'csi/csi.sock');
  const plugin = await startInOwnNamespace(t, addServeFlags(args, [`--store=local?root=${node.root}`]), socket, { CSI_ENDPOINT: `unix://${socket}` }, namespace);
  await assertHostUnchanged(t, node, before, targets, 'after start');
  const sim = new NomadClientSim(plugin.client, base);
  await sim.fingerprint();
  const { claim } = csiClaim(group(await shippedJob('example-app.nomad.hcl'), 'hello'));
  const volume = await shippedVolume('hello.volume.hcl', fixture.root);
  const allocs = [
    await sim.startAllocation(allocId(), volume, { ...claim, readOnly: true }),
    await sim.startAllocation(allocId(), volume, { ...claim, readOnly: false }),
  ];
  const storeInode = (await stat(join(node.store, dataFile(fixture)))).ino;
  for (const alloc of allocs) t.is((await stat(join(alloc.targetPath, 'store', dataFile(fixture)))).ino, storeInode);
  await assertHostUnchanged(t, node, before, targets, 'while published');
  for (const alloc of allocs) await sim.stopAllocation(alloc.allocId);
  t.deepEqual(await mountsBelow(base), [base]);
  await assertHostUnchanged(t, node, before, [staging(node), views(node)], 'after unpublishing');
}

test.serial('shared tree, shipped Nomad Docker task args (container namespace): RO and RW allocations share the store\'s inodes; the host\'s store bind stays read-only and its mounts unchanged', async (t) => {
  await nomadModeTest(t, 'nixmount.nomad.hcl', 'own');
});

test.serial('shared tree, shipped raw_exec single-binary args (`own-store -- serve` in the host\'s namespace): RO and RW allocations share the store\'s inodes; the host\'s store bind stays read-only and its mounts unchanged', async (t) => {
  await nomadModeTest(t, 'nixmount-binary.nomad.hcl', 'host');
});

test.serial('shared tree, `nixmount publish` in the host\'s namespace: RO and RW share the store\'s inodes; the host\'s store bind stays read-only and its mounts unchanged', async (t) => {
  const fixture = await buildFixture('-nixos-shared');
  const node = await sharedNode(t, fixture);
  const targets = [join(node.root, 'mnt'), staging(node), views(node)];
  await mkdir(targets[0]!);
  const before = await hostMountsBelow(node.root, targets);
  const env = { ...nixEnv, NIXMOUNT_STATE_DIR: join(node.root, 'nix/var/nixmount') };
  const common = ['--paths', fixture.root, '--substituters', '', `--store=local?root=${node.root}`];
  const storeInode = (await stat(join(node.store, dataFile(fixture)))).ino;
  for (const [name, extra] of [['ro', []], ['rw', ['--read-write']]] as const) {
    const target = join(targets[0]!, name);
    const published = await execa('node', [CLI, 'publish', '--target', target, ...common, ...extra], { env, reject: false });
    t.is(published.exitCode, 0, published.stderr);
    t.is((await stat(join(target, 'store', dataFile(fixture)))).ino, storeInode);
  }
  await assertHostUnchanged(t, node, before, targets, 'while published');
  for (const name of ['ro', 'rw']) t.is((await execa('node', [CLI, 'unpublish', '--target', join(targets[0]!, name)], { env, reject: false })).exitCode, 0);
  t.deepEqual(await mountsBelow(targets[0]!), []);
  await assertHostUnchanged(t, node, before, [staging(node), views(node)], 'after unpublishing');
});

test.serial('shared tree, Nomad host volume plugin (in the host\'s namespace): the created volume shares the store\'s inodes; the host\'s store bind stays read-only and its mounts unchanged', async (t) => {
  const fixture = await buildFixture('-nixos-shared');
  const node = await sharedNode(t, fixture);
  const before = await hostMountsBelow(node.root, [staging(node), views(node)]);
  const n = await hostVolumeNode(t, { store: `local?root=${node.root}`, 'state-dir': join(node.root, 'nix/var/nixmount') }, node.root);
  const req = request({ paths: fixture.root });
  const path = join(n.volumesDir, req.id);
  assertOk(t, await n.client.create(req));
  t.is((await stat(join(path, 'store', dataFile(fixture)))).ino, (await stat(join(node.store, dataFile(fixture)))).ino);
  await assertHostUnchanged(t, node, before, [staging(node), views(node)], 'while created');
  assertOk(t, await n.client.delete(req, path));
  await assertHostUnchanged(t, node, before, [staging(node), views(node)], 'after deleting');
});
