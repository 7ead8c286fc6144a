// A workload that swaps a directory of its volume path for a symlink while a publish is under
// way (or after it), against a real `nixmount serve --orchestrator kubernetes` in a private mount
// namespace: nothing may be mounted or created outside the kubelet directory, and an unpublish of
// a recorded volume must take its mount away wherever the swap moved it.
import test, { type ExecutionContext } from 'ava';
import { lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { armAction } from '../helpers/crash-moments.js';
import { answer, codeName, publishRequest, readable, recordFiles, safetyNode, workloadFile, type SafetyNode } from './safety-node.js';

interface Lane {
  node: SafetyNode;
  kubelet: string;
  /** The pod's volume directory kubelet made: …/pods/<uid>/volumes/kubernetes.io~csi/nix. */
  volumeDir: string;
  target: string;
  /** Where the swapped-in symlink points: outside the kubelet dir. */
  outside: string;
  context: Record<string, string>;
}

async function kubernetesLane(t: ExecutionContext, options: { wrappers?: boolean } = {}): Promise<Lane> {
  const node = await safetyNode(t, { noStart: true, ...options });
  const kubelet = join(node.dir, 'kubelet');
  node.serve.options.args = ['--orchestrator', 'kubernetes', '--kubelet-dir', kubelet];
  const volumeDir = join(kubelet, 'pods', 'uid-1', 'volumes', 'kubernetes.io~csi', 'nix');
  await mkdir(volumeDir, { recursive: true });
  const outside = join(node.dir, 'outside');
  await mkdir(outside);
  t.true((await node.serve.launch()).ready);
  const context = {
    paths: node.fixture.root,
    'csi.storage.k8s.io/ephemeral': 'true',
    'csi.storage.k8s.io/pod.name': 'p',
    'csi.storage.k8s.io/pod.namespace': 'default',
    'csi.storage.k8s.io/pod.uid': 'uid-1',
    'csi.storage.k8s.io/serviceAccount.name': 'default',
  };
  return { node, kubelet, volumeDir, target: join(volumeDir, 'mount'), outside, context };
}

/** What the workload does: `mv …/nix …/nix.orig; ln -s <outside> …/nix`. */
function swap(lane: Lane): void {
  renameSync(lane.volumeDir, `${lane.volumeDir}.orig`);
  symlinkSync(lane.outside, lane.volumeDir);
}

/** Every mount in the plugin's namespace whose mount point is outside the kubelet dir and of ours (a view or overlay of this state dir). */
async function mountsOutsideKubelet(lane: Lane): Promise<string[]> {
  const inside = (point: string) => point.startsWith(`${lane.kubelet}/`) || point.startsWith(`${lane.node.stateDir}/`);
  return (await lane.node.ns.mounts()).filter((entry) => entry.mountPoint.startsWith(`${lane.node.dir}/`) && !inside(entry.mountPoint)).map((entry) => entry.mountPoint);
}

async function mountsUnder(lane: Lane, dir: string): Promise<string[]> {
  return (await lane.node.ns.mounts()).filter((entry) => entry.mountPoint === dir || entry.mountPoint.startsWith(`${dir}/`)).map((entry) => entry.mountPoint);
}

test.serial('a parent swapped for a symlink while the view is built: the publish is refused, nothing is mounted or created outside the kubelet dir, no record stays', async (t) => {
  const lane = await kubernetesLane(t);
  const views = join(lane.node.stateDir, 'views');
  await mkdir(views, { recursive: true });
  const moment = armAction({ kind: 'event', label: 'view build', dir: views, match: /^\.building-/ }, 0, () => {
    swap(lane);
    return true;
  });
  t.teardown(moment.disarm);
  const published = await answer(lane.node.serve, 'NodePublishVolume', publishRequest('csi-1', lane.target, lane.context));
  moment.disarm();
  t.true(moment.fired(), 'the swap happened while the view was built');
  t.is(codeName(published.code), 'INVALID_ARGUMENT', published.details);
  t.regex(published.details, /symlink|resolves to/);
  t.deepEqual(await mountsOutsideKubelet(lane), [], 'nothing mounted outside the kubelet dir');
  t.deepEqual(await readdir(lane.outside), [], 'nothing created through the symlink');
  t.deepEqual(await mountsUnder(lane, `${lane.volumeDir}.orig`), [], 'nothing mounted where the swap moved the directory');
  t.deepEqual(await recordFiles(lane.node.stateDir), []);
  // kubelet unpublishes the pod's volume all the same: nothing of nixmount's can be there, so OK
  // (a refusal would be retried for ever), and nothing is followed or touched.
  const unpublished = await answer(lane.node.serve, 'NodeUnpublishVolume', { volume_id: 'csi-1', target_path: lane.target });
  t.is(codeName(unpublished.code), 'OK', unpublished.details);
  t.deepEqual(await readdir(lane.outside), [], 'nothing created or removed through the symlink');
  await lane.node.clean(t);
});

test.serial('a parent swapped for a symlink after the publish: the unpublish of the recorded volume unmounts it where the swap moved it, and touches nothing outside', async (t) => {
  const lane = await kubernetesLane(t);
  const published = await answer(lane.node.serve, 'NodePublishVolume', publishRequest('csi-1', lane.target, lane.context));
  t.is(codeName(published.code), 'OK', published.details);
  t.true(await readable(workloadFile(lane.node.ns, lane.target, lane.node.fixture)));
  swap(lane);
  const unpublished = await answer(lane.node.serve, 'NodeUnpublishVolume', { volume_id: 'csi-1', target_path: lane.target });
  t.is(codeName(unpublished.code), 'OK', unpublished.details);
  t.deepEqual(await mountsUnder(lane, `${lane.volumeDir}.orig`), [], 'the recorded mount is gone from where the swap moved it');
  t.deepEqual(await mountsOutsideKubelet(lane), [], 'nothing mounted outside the kubelet dir');
  t.deepEqual(await readdir(lane.outside), [], 'nothing created or removed through the symlink');
  t.deepEqual(await recordFiles(lane.node.stateDir), []);
  // kubelet's retry of that unpublish (its answer lost): the record is gone and no mount of
  // nixmount's is unaccounted for, so OK, as CSI asks of a repeated unpublish; the symlink is
  // neither followed nor removed, and what it points to is left as it is.
  await writeFile(join(lane.outside, 'theirs'), 'x');
  const again = await answer(lane.node.serve, 'NodeUnpublishVolume', { volume_id: 'csi-1', target_path: lane.target });
  t.is(codeName(again.code), 'OK', again.details);
  t.true((await lstat(lane.volumeDir)).isSymbolicLink(), 'the symlink stays');
  t.deepEqual(await readdir(lane.outside), ['theirs'], 'what it points to is untouched');
  t.deepEqual(await readdir(`${lane.volumeDir}.orig`), ['mount'], 'the directory the swap moved keeps what the volume left');
  await rm(join(lane.outside, 'theirs'));
  await lane.node.clean(t);
});

// The other steps of a publish a swap can land in: the record's write (after the target is
// made, before the mount) and the kept read-only bind of a new view (just before the target's bind).
const LATER_MOMENTS: Array<{ label: string; dir: (lane: Lane) => string; match: RegExp }> = [
  { label: 'the record write', dir: (lane) => join(lane.node.stateDir, 'volumes'), match: /\.tmp$/ },
  { label: 'the kept read-only bind', dir: (lane) => join(lane.node.stateDir, '.mounting'), match: /^[0-9a-f]{32}$/ },
];

for (const moment of LATER_MOMENTS) {
  test.serial(`a parent swapped for a symlink at ${moment.label}: nothing is mounted or created outside the kubelet dir, and whatever was mounted, the unpublish takes it away`, async (t) => {
    const lane = await kubernetesLane(t);
    await mkdir(moment.dir(lane), { recursive: true });
    const armed = armAction({ kind: 'event', label: moment.label, dir: moment.dir(lane), match: moment.match }, 0, () => {
      swap(lane);
      return true;
    });
    t.teardown(armed.disarm);
    const published = await answer(lane.node.serve, 'NodePublishVolume', publishRequest('csi-1', lane.target, lane.context));
    armed.disarm();
    t.true(armed.fired(), `the swap happened at ${moment.label}`);
    t.true(['OK', 'INVALID_ARGUMENT'].includes(codeName(published.code)), `${codeName(published.code)}: ${published.details}`);
    t.deepEqual(await mountsOutsideKubelet(lane), [], 'nothing mounted outside the kubelet dir');
    t.deepEqual(await readdir(lane.outside), [], 'nothing created through the symlink');
    const unpublished = await answer(lane.node.serve, 'NodeUnpublishVolume', { volume_id: 'csi-1', target_path: lane.target });
    // Recorded: unmounted by id; refused: nothing of nixmount's there. OK either way.
    t.is(codeName(unpublished.code), 'OK', unpublished.details);
    t.deepEqual(await mountsUnder(lane, lane.kubelet), [], 'no mount left in the kubelet dir');
    t.deepEqual(await recordFiles(lane.node.stateDir), []);
    await lane.node.clean(t);
  });
}

/** Swaps the symlink back for the directory it replaced (what an operator does to repair the path). */
function unswap(lane: Lane): void {
  rmSync(lane.volumeDir);
  renameSync(`${lane.volumeDir}.orig`, lane.volumeDir);
}

test.serial('a parent swapped for a symlink between the unpublish\'s check and its unmount: the volume\'s own mount goes, nothing outside the kubelet dir is unmounted or removed', async (t) => {
  const lane = await kubernetesLane(t, { wrappers: true });
  const wrappers = lane.node.wrappers!;
  // Where the swap leads: a directory named like the target, with a mount of someone else's on it.
  const decoy = join(lane.outside, 'mount');
  await mkdir(decoy);
  await lane.node.ns.exec('mount', ['-t', 'tmpfs', 'decoy', decoy]);
  t.teardown(() => lane.node.ns.exec('umount', [decoy], false));
  const published = await answer(lane.node.serve, 'NodePublishVolume', publishRequest('csi-1', lane.target, lane.context));
  t.is(codeName(published.code), 'OK', published.details);
  // The unpublish's first unmount waits, the ownership check made, until the swap is done.
  await wrappers.arm({ command: 'umount2(2)', n: 1, when: 'pause' });
  const moment = armAction({ kind: 'event', label: 'the unpublish\'s unmount', dir: wrappers.ctl, match: /^paused$/ }, 0, () => {
    swap(lane);
    wrappers.resume();
    return true;
  });
  t.teardown(moment.disarm);
  t.teardown(() => wrappers.resume());
  const unpublished = await answer(lane.node.serve, 'NodeUnpublishVolume', { volume_id: 'csi-1', target_path: lane.target });
  moment.disarm();
  await wrappers.disarm();
  t.true(moment.fired(), 'the swap happened between the check and the unmount');
  t.is(codeName(unpublished.code), 'OK', unpublished.details);
  t.deepEqual((await lane.node.ns.mountsAt(decoy)).map((entry) => entry.fsType), ['tmpfs'], 'the mount outside the kubelet dir stays');
  t.deepEqual(await readdir(lane.outside), ['mount'], 'nothing removed outside the kubelet dir');
  t.deepEqual(await mountsUnder(lane, lane.kubelet), [], 'the volume\'s own mount is gone from where the swap moved it');
  t.deepEqual(await readdir(`${lane.volumeDir}.orig`), [], 'the target nixmount created is removed through the held parent');
  t.deepEqual(await recordFiles(lane.node.stateDir), []);
  await lane.node.ns.exec('umount', [decoy]);
  await lane.node.clean(t);
});

/** Rewrites the volume's record as a version that kept no mount ids wrote it (the plugin stopped meanwhile). */
async function dropMountId(lane: Lane): Promise<void> {
  const [file] = await recordFiles(lane.node.stateDir);
  const path = join(lane.node.stateDir, 'volumes', file!);
  const record = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  if (typeof record.mountId !== 'number') throw new Error(`the record names no mount id: ${JSON.stringify(record)}`);
  delete record.mountId;
  await writeFile(path, JSON.stringify(record));
}

test.serial('a writable volume whose record names no mount id, its parent swapped for a symlink: the unpublish finds its overlay by its upper directory and unmounts it', async (t) => {
  const lane = await kubernetesLane(t);
  const published = await answer(lane.node.serve, 'NodePublishVolume', publishRequest('csi-1', lane.target, lane.context, { readonly: false }));
  t.is(codeName(published.code), 'OK', published.details);
  await lane.node.serve.stop();
  await dropMountId(lane);
  t.true((await lane.node.serve.launch()).ready);
  swap(lane);
  const unpublished = await answer(lane.node.serve, 'NodeUnpublishVolume', { volume_id: 'csi-1', target_path: lane.target });
  t.is(codeName(unpublished.code), 'OK', unpublished.details);
  t.deepEqual(await mountsUnder(lane, lane.kubelet), [], 'the overlay is gone from where the swap moved it');
  t.deepEqual(await mountsOutsideKubelet(lane), []);
  t.deepEqual(await readdir(lane.outside), []);
  t.deepEqual(await recordFiles(lane.node.stateDir), []);
  await lane.node.clean(t);
});

test.serial('a read-only volume whose record names no mount id, its parent swapped for a symlink: the unpublish names the mount to remove and changes nothing; with the swap undone, a later start unpublishes it', async (t) => {
  const lane = await kubernetesLane(t);
  const published = await answer(lane.node.serve, 'NodePublishVolume', publishRequest('csi-1', lane.target, lane.context));
  t.is(codeName(published.code), 'OK', published.details);
  await lane.node.serve.stop();
  await dropMountId(lane);
  t.true((await lane.node.serve.launch()).ready);
  swap(lane);
  // The volume's mount, and below it a bind farm's per-path binds when the view is one.
  const before = await mountsUnder(lane, `${lane.volumeDir}.orig`);
  t.is(before[0], `${lane.volumeDir}.orig/mount`);
  const refused = await answer(lane.node.serve, 'NodeUnpublishVolume', { volume_id: 'csi-1', target_path: lane.target });
  t.is(codeName(refused.code), 'FAILED_PRECONDITION', refused.details);
  t.true(refused.details.includes(`${lane.volumeDir}.orig/mount`), `the message names the mount to remove: ${refused.details}`);
  t.deepEqual(await mountsUnder(lane, `${lane.volumeDir}.orig`), before, 'nothing changed');
  t.is((await recordFiles(lane.node.stateDir)).length, 1, 'the record stays');
  await lane.node.serve.stop();
  unswap(lane);
  t.true((await lane.node.serve.launch()).ready);
  const unpublished = await answer(lane.node.serve, 'NodeUnpublishVolume', { volume_id: 'csi-1', target_path: lane.target });
  t.is(codeName(unpublished.code), 'OK', unpublished.details);
  t.deepEqual(await mountsUnder(lane, lane.kubelet), []);
  t.deepEqual(await readdir(lane.volumeDir), [], 'the target nixmount created is removed');
  t.deepEqual(await recordFiles(lane.node.stateDir), []);
  await lane.node.clean(t);
});

test.serial('a read-only volume whose record names no mount id, its parent swapped for a symlink: once the operator unmounts the mount the refusal named, the retry answers OK', async (t) => {
  const lane = await kubernetesLane(t);
  const published = await answer(lane.node.serve, 'NodePublishVolume', publishRequest('csi-1', lane.target, lane.context));
  t.is(codeName(published.code), 'OK', published.details);
  await lane.node.serve.stop();
  await dropMountId(lane);
  t.true((await lane.node.serve.launch()).ready);
  swap(lane);
  const refused = await answer(lane.node.serve, 'NodeUnpublishVolume', { volume_id: 'csi-1', target_path: lane.target });
  t.is(codeName(refused.code), 'FAILED_PRECONDITION', refused.details);
  const named = `${lane.volumeDir}.orig/mount`;
  t.true(refused.details.includes(named), refused.details);
  await lane.node.ns.exec('umount', ['-R', named]);
  const retried = await answer(lane.node.serve, 'NodeUnpublishVolume', { volume_id: 'csi-1', target_path: lane.target });
  t.is(codeName(retried.code), 'OK', retried.details);
  t.deepEqual(await mountsUnder(lane, lane.kubelet), []);
  t.deepEqual(await mountsOutsideKubelet(lane), []);
  t.deepEqual(await readdir(lane.outside), []);
  t.deepEqual(await recordFiles(lane.node.stateDir), []);
  await lane.node.clean(t);
});
