import test, { type ExecutionContext } from 'ava';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { pushSigned, signingKey, startBinaryCache } from '../helpers/binary-cache.js';
import { KubeletHarness, pod } from '../helpers/kubelet-harness.js';
import { mountsBelow } from '../helpers/mounts.js';
import { mountHelperPids } from '../helpers/processes.js';
import { buildFixture, type Fixture } from '../helpers/nix.js';
import { NomadClientSim } from '../helpers/nomad-harness.js';
import { tempDir } from '../helpers/temp.js';
import { allocId, csiClaim, group, shippedJob, shippedVolume } from '../adapters/nomad/shipped-jobs.js';
import { daemonSetPluginArgs, hostMountsAt, nixosNode, nomadJobArgs, setFlag, sharedDir } from '../deploy/nixos-node.js';
import { hostStateDir, IMAGE, podman, report, rssMiB, runPlugin } from './podman.js';

// The plugin image, run as the shipped DaemonSet and Nomad job run it (their args verbatim,
// paths moved under temp dirs), driven over its socket by the kubelet and Nomad harnesses.

function dataPath(fixture: Fixture): string {
  return join(fixture.closure.find((p) => p.includes('fixture-data'))!.slice('/nix/store/'.length), 'share/greeting');
}

/** The DaemonSet's plugin container: kubelet's dir at the same path, Bidirectional (rshared); the node's /nix; the socket dir. */
async function daemonSetContainer(t: ExecutionContext, nixDir: string, extraArgs: string[] = []) {
  const work = await tempDir(t, 'nixmount-image-');
  const kubeletDir = join(work, 'var/lib/kubelet');
  await sharedDir(kubeletDir);
  await mkdir(join(kubeletDir, 'pods'), { recursive: true });
  const socketDir = join(work, 'csi');
  await mkdir(socketDir);
  let args = (await daemonSetPluginArgs()).map((a) => a.replace('$(NODE_NAME)', 'image-node'));
  args = setFlag(args, 'kubelet-dir', kubeletDir);
  if (nixDir === '/nix') args = setFlag(args, 'state-dir', await hostStateDir(t));
  args = [...args, ...extraArgs];
  const container = await runPlugin(t, {
    volumes: [`${nixDir}:/nix`, `${kubeletDir}:${kubeletDir}:rshared`, `${socketDir}:/csi`],
    args,
    socket: join(socketDir, 'csi.sock'),
  });
  const kubelet = new KubeletHarness({ client: container.client, kubeletDir, nodeName: 'image-node' });
  return { container, kubelet, kubeletDir };
}

test.serial('image size and labels', async (t) => {
  const inspect = JSON.parse((await podman(['image', 'inspect', IMAGE])).stdout)[0];
  const mb = Math.round(inspect.Size / 1e6);
  t.log(`${IMAGE}: ${mb} MB`);
  await report(`image ${IMAGE} size ${mb} MB`);
  t.is(inspect.Config.Entrypoint[0], 'nixmount');
  t.truthy(inspect.Config.Labels['org.opencontainers.image.source']);
  t.is(inspect.Config.Labels['org.opencontainers.image.version'], IMAGE.split(':').pop());
  t.true(mb <= 320, `image is ${mb} MB`);
  const help = await podman(['run', '--rm', IMAGE, '--help']);
  t.regex(help.stdout, /usage: nixmount <command>/);
});

test.serial('kubelet replay against the container (DaemonSet args): register, publish RO and RW, read, same inode as the host store, unpublish, nothing left; idle RSS', async (t) => {
  const fixture = await buildFixture('-image');
  const { container, kubelet, kubeletDir } = await daemonSetContainer(t, '/nix');
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const idle = await rssMiB(await container.pid());
  t.log(`idle RSS of the containerised plugin: ${idle.toFixed(1)} MiB`);
  await report(`container idle RSS ${idle.toFixed(1)} MiB`);

  t.deepEqual(await kubelet.register(), { driverName: 'nixmount.csi.nixos.dev', nodeId: 'image-node', topology: { 'kubernetes.io/hostname': 'image-node' }, maxVolumes: '0' });
  const ro = pod({ name: 'ro', volumes: [{ name: 'nix', readOnly: true, volumeAttributes: { paths: fixture.root } }] });
  const rw = pod({ name: 'rw', volumes: [{ name: 'nix', readOnly: false, volumeAttributes: { paths: fixture.root } }] });
  for (const p of [ro, rw]) t.deepEqual((await kubelet.startPod(p)).map((o) => [o.code, o.details]), [[status.OK, '']]);
  t.is((await mountHelperPids(await container.pid())).length, 1, 'the read-only volume was bound by the mount helper (perl-base is in the image)');
  const storeInode = (await stat(join('/nix/store', dataPath(fixture)))).ino;
  for (const p of [ro, rw]) {
    const file = join(kubelet.targetPath(p, p.volumes[0]!), 'store', dataPath(fixture));
    t.is(await readFile(file, 'utf8'), 'greetings from the data path -image\n');
    t.is((await stat(file)).ino, storeInode);
  }
  for (const p of [ro, rw]) t.deepEqual((await kubelet.deletePod(p)).map((o) => o.code), [status.OK]);
  t.deepEqual(await mountsBelow(kubeletDir), [kubeletDir]);
});

test.serial('Nomad replay against the container (the job\'s args): fingerprint, stage once, two allocations, unstage, nothing left', async (t) => {
  const fixture = await buildFixture('-image');
  const work = await tempDir(t, 'nixmount-image-');
  const base = join(work, 'local/csi');
  await sharedDir(base);
  const socketDir = join(work, 'csi');
  await mkdir(socketDir);
  let args = (await nomadJobArgs('nixmount.nomad.hcl')).map((a) => (a === '${node.unique.id}' ? 'nomad-image-node' : a));
  args = setFlag(args, 'stage-publish-base-dir', base);
  args = setFlag(args, 'state-dir', await hostStateDir(t));
  const container = await runPlugin(t, {
    volumes: ['/nix:/nix', `${base}:${base}:rshared`, `${socketDir}:/csi`],
    args,
    env: { CSI_ENDPOINT: 'unix:///csi/csi.sock', NIXMOUNT_SUBSTITUTERS: '' },
    socket: join(socketDir, 'csi.sock'),
  });
  const sim = new NomadClientSim(container.client, base);
  await sim.fingerprint(200);
  t.is(sim.nodeInfo?.node_id, 'nomad-image-node');
  const { claim } = csiClaim(group(await shippedJob('example-app.nomad.hcl'), 'hello'));
  const volume = await shippedVolume('hello.volume.hcl', fixture.root);
  const allocs = [await sim.startAllocation(allocId(), volume, claim), await sim.startAllocation(allocId(), volume, claim)];
  t.is(sim.calls.filter((c) => c === 'NodeStageVolume').length, 1);
  const storeInode = (await stat(join('/nix/store', dataPath(fixture)))).ino;
  for (const alloc of allocs) t.is((await stat(join(alloc.targetPath, 'store', dataPath(fixture)))).ino, storeInode);
  for (const alloc of allocs) await sim.stopAllocation(alloc.allocId);
  t.is(sim.calls.at(-1), 'NodeUnstageVolume');
  t.deepEqual(await mountsBelow(base), [base]);
});

test.serial('a node without Nix (empty /nix): the container substitutes the closure from a signed cache on loopback and publishes it', async (t) => {
  const fixture = await buildFixture('-image-empty');
  const key = await signingKey(t, 'nixmount-image-test');
  const cache = await startBinaryCache(t);
  await pushSigned(cache, key, [fixture.root]);
  const emptyNix = join(await tempDir(t, 'nixmount-image-nix-'), 'nix');
  await mkdir(emptyNix);
  const { kubelet, kubeletDir } = await daemonSetContainer(t, emptyNix, [`--substituters=${cache.url}`, `--trusted-public-keys=${key.publicKey}`]);
  const p = pod({ name: 'fresh', volumes: [{ name: 'nix', readOnly: true, volumeAttributes: { paths: fixture.root } }] });
  t.deepEqual((await kubelet.startPod(p)).map((o) => [o.code, o.details]), [[status.OK, '']]);
  const inNodeStore = join(emptyNix, 'store', dataPath(fixture));
  const inVolume = join(kubelet.targetPath(p, p.volumes[0]!), 'store', dataPath(fixture));
  t.is(await readFile(inVolume, 'utf8'), 'greetings from the data path -image-empty\n');
  t.is((await stat(inVolume)).ino, (await stat(inNodeStore)).ino, 'substituted into the node\'s (empty) /nix, then hardlinked');
  t.deepEqual((await kubelet.deletePod(p)).map((o) => o.code), [status.OK]);
  t.deepEqual(await mountsBelow(kubeletDir), [kubeletDir]);
});

test.serial('a simulated NixOS node (its nix/store a read-only bind of itself) under the container: own-store changes no mount, pods get the closure, the host keeps its bind', async (t) => {
  const fixture = await buildFixture('-image-nixos');
  const node = await nixosNode(t, [fixture.root]);
  const { container, kubelet, kubeletDir } = await daemonSetContainer(t, join(node.root, 'nix'));
  t.regex(await container.logs(), /views are linked in a private mount namespace through a second bind of its parent; no mount here changes/);
  const p = pod({ name: 'nixos', volumes: [{ name: 'nix', readOnly: true, volumeAttributes: { paths: fixture.root } }] });
  t.deepEqual((await kubelet.startPod(p)).map((o) => [o.code, o.details]), [[status.OK, '']]);
  const inVolume = join(kubelet.targetPath(p, p.volumes[0]!), 'store', dataPath(fixture));
  t.is(await readFile(inVolume, 'utf8'), 'greetings from the data path -image-nixos\n');
  t.is((await stat(inVolume)).ino, (await stat(join(node.store, dataPath(fixture)))).ino);
  t.deepEqual((await kubelet.deletePod(p)).map((o) => o.code), [status.OK]);
  t.deepEqual(await mountsBelow(kubeletDir), [kubeletDir]);
  t.true((await hostMountsAt(node.store))[0]!.includes('ro'), 'the host keeps its read-only bind');
});
