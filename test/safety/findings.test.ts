// One regression test per finding of the first hostile review (titles start with "finding N:"). Each plugin runs
// as a real `nixmount serve` process inside a private mount namespace (test/helpers/crash-namespace.ts),
// so a mount today's code wrongly makes over /etc or a store path never reaches the host.
import test from 'ava';
import { execa } from 'execa';
import { mkdir, readdir, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gcRootDirFor, gcRootDirForLiteral } from '../helpers/node-clean.js';
import { ORPHAN_WRITE_SECONDS } from '../helpers/crash-wrappers.js';
import { ServeNode } from '../helpers/crash-serve.js';
import {
  answer,
  codeName,
  publishRequest,
  readable,
  recordFiles,
  safetyNode,
  sleep,
  viewNames,
  workloadFile,
  type SafetyNode,
} from './safety-node.js';

const MAX_MESSAGE = 4096;

async function publishOk(t: import('ava').ExecutionContext, node: SafetyNode, volumeId: string, target: string, options: { readonly?: boolean } = {}) {
  const result = await answer(node.serve, 'NodePublishVolume', publishRequest(volumeId, target, { paths: node.fixture.root }, options));
  t.is(codeName(result.code), 'OK', `publish ${volumeId} at ${target}: ${result.details}`);
}

async function podTarget(node: SafetyNode, name = 'pod'): Promise<string> {
  await mkdir(join(node.dir, name), { recursive: true });
  return join(node.dir, name, 'mount');
}

// ---------------------------------------------------------------------------------------------
// Finding 1 (critical): a corrupt record must never let the idle collector remove a live view.
const CORRUPTIONS: Array<[string, (text: string) => string]> = [
  ['truncated to half', (text) => text.slice(0, Math.floor(text.length / 2))],
  ['{}', () => '{}\n'],
  ['null', () => 'null\n'],
  [
    'wrong field types',
    (text) => {
      const record = JSON.parse(text) as Record<string, unknown>;
      const wrong: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(record)) wrong[key] = typeof value === 'string' ? 42 : typeof value === 'number' ? 'x' : typeof value === 'boolean' ? 'yes' : Array.isArray(value) ? { not: 'a list' } : ['not an object'];
      return `${JSON.stringify(wrong)}\n`;
    },
  ],
];

for (const [name, corrupt] of CORRUPTIONS) {
  test.serial(`finding 1: a record ${name} is quarantined, logged once, and its live view survives the idle collector`, async (t) => {
    const node = await safetyNode(t, { viewIdle: '2s' });
    const target = await podTarget(node);
    await publishOk(t, node, 'v1', target);
    const [file] = await recordFiles(node.stateDir);
    t.truthy(file, 'the publish wrote one record');
    const original = await readFile(join(node.stateDir, 'volumes', file!), 'utf8');
    const views = await viewNames(node.stateDir);
    await node.serve.stop();
    const bad = corrupt(original);
    await writeFile(join(node.stateDir, 'volumes', file!), bad);

    t.true((await node.serve.launch()).ready, 'the plugin starts with a corrupt record');
    // Collector ticks every 2 s: first tick marks idle, the next removes what it thinks unheld.
    await sleep(7_000);
    t.deepEqual(await viewNames(node.stateDir), views, 'the live view is still there');
    t.true(await readable(workloadFile(node.ns, target, node.fixture)), "the workload's files are still readable");
    t.deepEqual(await recordFiles(node.stateDir), [], 'the corrupt record left volumes/');
    const quarantined = await readdir(join(node.stateDir, 'quarantine')).catch(() => [] as string[]);
    t.is(quarantined.length, 1, 'one file in quarantine/');
    if (quarantined[0]) t.is(await readFile(join(node.stateDir, 'quarantine', quarantined[0]), 'utf8'), bad, 'quarantined byte for byte');
    t.is(node.serve.logged(file!.replace(/\.json$/, ''), 50, 2).length, 1, 'logged once at error level, naming the record');

    const unpublish = await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: target });
    t.is(codeName(unpublish.code), 'OK', unpublish.details);
    t.deepEqual(await node.ns.mountsAt(target), [], 'unpublish unmounted our mount though its record was quarantined');
    t.true(await readdir(target).then(() => true, () => false), 'the target directory is not removed (no record says nixmount created it)');
    await node.serve.stop(); // the idle collector must not race the final check
    await node.clean(t);
  });
}

// ---------------------------------------------------------------------------------------------
// Finding 2: nixmount unmounts only mounts proven its own.
test.serial('finding 2: publish onto an admin tmpfs is FAILED_PRECONDITION naming it, and unpublish there leaves the tmpfs and its files', async (t) => {
  const node = await safetyNode(t);
  const target = await podTarget(node);
  await mkdir(target);
  await node.ns.exec('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'admin-tmpfs', target]);
  await writeFile(node.ns.view(join(target, 'marker')), 'admin data');

  const publish = await answer(node.serve, 'NodePublishVolume', publishRequest('v1', target, { paths: node.fixture.root }));
  t.is(codeName(publish.code), 'FAILED_PRECONDITION', publish.details);
  t.true(publish.details.includes(target), `the message names the target: ${publish.details}`);
  const unpublish = await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: target });
  t.is(codeName(unpublish.code), 'OK', unpublish.details);

  t.deepEqual((await node.ns.mountsAt(target)).map((entry) => entry.fsType), ['tmpfs'], 'exactly the admin tmpfs is mounted at the target');
  t.is(await readFile(node.ns.view(join(target, 'marker')), 'utf8'), 'admin data');
  await node.ns.exec('umount', [target]);
  await node.clean(t);
});

test.serial('finding 2: unpublish under a foreign mount stacked on ours is FAILED_PRECONDITION naming it and keeps the record', async (t) => {
  const node = await safetyNode(t);
  const target = await podTarget(node);
  await publishOk(t, node, 'v1', target);
  await node.ns.exec('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'admin-tmpfs', target]);

  const refused = await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: target });
  t.is(codeName(refused.code), 'FAILED_PRECONDITION', refused.details);
  t.true(refused.details.includes(target), `the message names the foreign mount: ${refused.details}`);
  t.is((await recordFiles(node.stateDir)).length, 1, 'the record is kept');
  t.is((await node.ns.mountsAt(target)).length, 2, 'our mount and the foreign one are both still there');
  t.is((await node.ns.mountsAt(target)).at(-1)?.fsType, 'tmpfs', 'the foreign tmpfs is still on top');

  await node.ns.exec('umount', [target]);
  const retried = await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: target });
  t.is(codeName(retried.code), 'OK', retried.details);
  t.deepEqual(await node.ns.mountsAt(target), []);
  t.deepEqual(await recordFiles(node.stateDir), []);
  await node.clean(t);
});

// ---------------------------------------------------------------------------------------------
// Finding 3: unpublish never deletes a directory nixmount did not create, and checks its path.
test.serial('finding 3: unpublish of an unknown empty directory answers OK and leaves it; a relative path is INVALID_ARGUMENT and resolves nowhere', async (t) => {
  const node = await safetyNode(t, { noStart: true });
  const cwd = join(node.dir, 'cwd');
  await mkdir(join(cwd, 'victim-rel'), { recursive: true });
  node.serve.options.cwd = cwd;
  t.true((await node.serve.launch()).ready);
  const victim = join(node.dir, 'victim');
  await mkdir(victim);

  const absolute = await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'x', target_path: victim });
  t.is(codeName(absolute.code), 'OK', absolute.details);
  t.true(await readdir(victim).then(() => true, () => false), 'the empty directory is still there');
  const relative = await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'x', target_path: 'victim-rel' });
  t.is(codeName(relative.code), 'INVALID_ARGUMENT', relative.details);
  t.true(await readdir(join(cwd, 'victim-rel')).then(() => true, () => false), "the plugin's cwd/victim-rel is still there");
  await node.clean(t);
});

test.serial('finding 3: the kubernetes adapter checks unpublish paths: outside the kubelet dir is INVALID_ARGUMENT and nothing is removed', async (t) => {
  const node = await safetyNode(t, { noStart: true });
  const kubelet = join(node.dir, 'kubelet');
  await mkdir(kubelet);
  node.serve.options.args = ['--orchestrator', 'kubernetes', '--kubelet-dir', kubelet];
  t.true((await node.serve.launch()).ready);
  const victim = join(node.dir, 'victim');
  await mkdir(victim);
  const inside = join(kubelet, 'pods', 'uid-1', 'victim');
  await mkdir(inside, { recursive: true });

  for (const path of [victim, inside]) {
    const result = await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'x', target_path: path });
    t.is(codeName(result.code), 'INVALID_ARGUMENT', `${path}: ${result.details}`);
    t.true(await readdir(path).then(() => true, () => false), `${path} is still there`);
  }
  await node.clean(t);
});

// ---------------------------------------------------------------------------------------------
// Finding 4: targets are confined (local adapter: system dirs, symlinks, stores, the state dir).
test.serial('finding 4: the local adapter refuses /etc, a symlink to /etc, a symlinked parent, a store path, a new dir in /nix/store and <state>/volumes with INVALID_ARGUMENT, mounting nothing', async (t) => {
  const node = await safetyNode(t);
  await symlink('/etc', join(node.dir, 'link-to-etc'));
  await mkdir(join(node.dir, 'real-parent'));
  await symlink(join(node.dir, 'real-parent'), join(node.dir, 'link-parent'));
  const newInStore = `/nix/store/nixmount-safety-${process.pid}-${Date.now()}`;
  t.teardown(() => rm(newInStore, { recursive: true, force: true }));
  const targets = ['/etc', join(node.dir, 'link-to-etc'), join(node.dir, 'link-parent', 'mount'), node.fixture.root, newInStore, join(node.stateDir, 'volumes')];
  const before = (await node.ns.mounts()).length;
  for (const target of targets) {
    const result = await answer(node.serve, 'NodePublishVolume', publishRequest('v-bad', target, { paths: node.fixture.root }));
    t.is(codeName(result.code), 'INVALID_ARGUMENT', `${target}: ${result.details}`);
  }
  t.is((await node.ns.mounts()).length, before, 'no mount was made anywhere');
  t.false(await readdir(newInStore).then(() => true, () => false), 'no directory was created in /nix/store');
  t.deepEqual(await readdir(join(node.dir, 'real-parent')), [], 'nothing created through the symlinked parent');

  // The plugin still works, and a restart reloads its records (none was written under a refused target).
  const target = await podTarget(node);
  await publishOk(t, node, 'v1', target);
  t.true((await node.serve.restart()).ready);
  t.is((await recordFiles(node.stateDir)).length, 1);
  await node.clean(t, { liveTargets: [target] });
  t.is(codeName((await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: target })).code), 'OK');
  await node.clean(t);
});

test.serial('finding 4: the kubernetes adapter refuses a symlinked …/mount and a symlinked pod dir with INVALID_ARGUMENT, mounting nothing outside the kubelet dir', async (t) => {
  const node = await safetyNode(t, { noStart: true });
  const kubelet = join(node.dir, 'kubelet');
  node.serve.options.args = ['--orchestrator', 'kubernetes', '--kubelet-dir', kubelet];
  // pod 1: …/vol/mount -> outside
  const volume1 = join(kubelet, 'pods', 'uid-1', 'volumes', 'kubernetes.io~csi', 'vol');
  await mkdir(volume1, { recursive: true });
  const outside = join(node.dir, 'outside');
  await mkdir(outside);
  await symlink(outside, join(volume1, 'mount'));
  // pod 2: pods/uid-2 -> elsewhere (a symlinked parent)
  const elsewhere = join(node.dir, 'elsewhere');
  await mkdir(join(elsewhere, 'volumes', 'kubernetes.io~csi', 'vol'), { recursive: true });
  await symlink(elsewhere, join(kubelet, 'pods', 'uid-2'));
  t.true((await node.serve.launch()).ready);

  const context = { paths: node.fixture.root, 'csi.storage.k8s.io/ephemeral': 'true', 'csi.storage.k8s.io/pod.name': 'p', 'csi.storage.k8s.io/pod.namespace': 'default', 'csi.storage.k8s.io/pod.uid': 'uid', 'csi.storage.k8s.io/serviceAccount.name': 'default' };
  for (const target of [join(volume1, 'mount'), join(kubelet, 'pods', 'uid-2', 'volumes', 'kubernetes.io~csi', 'vol', 'mount')]) {
    const result = await answer(node.serve, 'NodePublishVolume', publishRequest('csi-x', target, context));
    t.is(codeName(result.code), 'INVALID_ARGUMENT', `${target}: ${result.details}`);
  }
  t.deepEqual(await node.ns.mountsAt(outside), [], 'nothing mounted at the symlink target');
  t.deepEqual(await readdir(join(elsewhere, 'volumes', 'kubernetes.io~csi', 'vol')), [], 'nothing created through the symlinked pod dir');
  await node.clean(t);
});

// ---------------------------------------------------------------------------------------------
// Finding 5: one canonical form of a target keys records, mounts and locks.
test.serial('finding 5: t/e/ and t/e, t//d/ and t/d are one volume each: one mount, one record, and unpublish by the other spelling removes it', async (t) => {
  const node = await safetyNode(t);
  await mkdir(join(node.dir, 't'));
  for (const [first, second] of [
    [join(node.dir, 't/e') + '/', join(node.dir, 't/e')],
    [`${node.dir}/t//d/`, join(node.dir, 't/d')],
  ] as const) {
    await publishOk(t, node, 'v1', first);
    await publishOk(t, node, 'v1', second);
    t.is((await node.ns.mountsAt(second)).length, 1, `one mount at ${second}`);
    t.is((await recordFiles(node.stateDir)).length, 1, 'one record');
    const other = await answer(node.serve, 'NodePublishVolume', publishRequest('v2', second, { paths: node.fixture.root }));
    t.is(codeName(other.code), 'ALREADY_EXISTS', `another volume at the same canonical target: ${other.details}`);
    const unpublish = await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: first });
    t.is(codeName(unpublish.code), 'OK', unpublish.details);
    t.deepEqual(await node.ns.mountsAt(second), [], `nothing left mounted at ${second}`);
    t.deepEqual(await recordFiles(node.stateDir), [], 'no record left');
  }
  await node.clean(t);
});

// ---------------------------------------------------------------------------------------------
// Finding 6: the in-flight guard keys on the canonical target alone.
test.serial('finding 6: two volume ids racing for one target (either spelling): exactly one wins, the other is ABORTED or ALREADY_EXISTS, one mount and one record', async (t) => {
  const node = await safetyNode(t);
  for (let round = 0; round < 4; round++) {
    const target = await podTarget(node, `pod-${round}`);
    const spelling = round % 2 === 0 ? target : `${target}/`;
    const results = await Promise.all([
      answer(node.serve, 'NodePublishVolume', publishRequest('v1', target, { paths: node.fixture.root })),
      answer(node.serve, 'NodePublishVolume', publishRequest('v2', spelling, { paths: node.fixture.root })),
    ]);
    const codes = results.map((r) => codeName(r.code));
    t.is(codes.filter((code) => code === 'OK').length, 1, `round ${round}: exactly one publish wins (${codes.join(', ')}; ${results.map((r) => r.details).join(' | ')})`);
    t.true(codes.every((code) => ['OK', 'ABORTED', 'ALREADY_EXISTS'].includes(code)), `round ${round}: ${codes.join(', ')}`);
    t.is((await node.ns.mountsAt(target)).length, 1, `round ${round}: one mount`);
    t.is((await recordFiles(node.stateDir)).length, 1, `round ${round}: one record`);
    const winner = codes[0] === 'OK' ? 'v1' : 'v2';
    const unpublish = await answer(node.serve, 'NodeUnpublishVolume', { volume_id: winner, target_path: target });
    t.is(codeName(unpublish.code), 'OK', unpublish.details);
    t.deepEqual(await node.ns.mountsAt(target), []);
  }
  await node.clean(t);
});

// ---------------------------------------------------------------------------------------------
// Finding 7: kill -9 during `cp` and restart at once.
test.serial('finding 7: kill -9 while cp builds a view, restart at once: the plugin starts (not exit 1), the half-built view is swept, the retry succeeds', async (t) => {
  // Hardlink views (cp): a read-only volume would otherwise be a bind farm, which spawns no cp.
  const node = await safetyNode(t, { wrappers: true, args: ['--view-mode', 'hardlink'] });
  const target = await podTarget(node);
  await node.wrappers!.arm({ command: 'cp', n: 1, when: 'orphan' });
  const killed = await answer(node.serve, 'NodePublishVolume', publishRequest('v1', target, { paths: node.fixture.root }));
  t.not(codeName(killed.code), 'OK', 'the publish died with the plugin');
  t.true(await node.serve.waitExit(10_000), 'the wrapper killed the plugin');
  t.true(await node.wrappers!.fired());
  const restart = await node.serve.launch();
  t.true(restart.ready, `restarted at once: exit ${restart.exitCode}; ${restart.stderr.slice(-1000)}`);
  await node.wrappers!.disarm();
  await sleep((ORPHAN_WRITE_SECONDS + 1) * 1000);
  t.deepEqual((await viewNames(node.stateDir)).filter((name) => name.startsWith('.')), [], 'no .building-* left once the orphan is gone');
  if (!restart.ready) t.true((await node.serve.launch()).ready);
  await publishOk(t, node, 'v1', target);
  t.true(await readable(workloadFile(node.ns, target, node.fixture)));
  await node.clean(t, { liveTargets: [target] });
  t.is(codeName((await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: target })).code), 'OK');
  await node.clean(t);
});

// ---------------------------------------------------------------------------------------------
// Finding 8: GC roots never leak.
test.serial('finding 8: a crash between removing a view and removing its root: the next start removes the root (a root without a view goes)', async (t) => {
  const node = await safetyNode(t, { viewIdle: '1h' });
  const target = await podTarget(node);
  await publishOk(t, node, 'v1', target);
  t.is(codeName((await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: target })).code), 'OK');
  const [view] = await viewNames(node.stateDir);
  t.truthy(view, 'the idle view is kept (view-idle 1h)');
  await node.serve.stop();
  // Exactly what a kill -9 leaves after the view's rename to .deleting-*, before its root is unlinked.
  await rename(join(node.stateDir, 'views', view!), join(node.stateDir, 'views', `.deleting-${view}-deadbeef`));
  const rootDir = await gcRootDirFor(node.stateDir);
  t.true((await readdir(rootDir)).some((name) => name.startsWith(`${view}-`)), 'its root is still there');

  node.serve.options.viewIdle = '0';
  t.true((await node.serve.launch()).ready);
  t.deepEqual((await readdir(rootDir).catch(() => [] as string[])).filter((name) => name.startsWith(`${view}-`)), [], 'the stranded root is gone');
  await node.clean(t);
});

test.serial('finding 8: roots are keyed by the realpath of the state dir: state/, state and a symlink to it share one root dir and nothing is stranded', async (t) => {
  const first = await safetyNode(t, { noStart: true });
  const plain = join(first.dir, 'state');
  const slashed = `${plain}/`;
  const link = join(first.dir, 'state-link');
  await symlink(plain, link);
  first.serve.options.stateDir = slashed;
  t.teardown(() => rm(gcRootDirForLiteral(slashed), { recursive: true, force: true }));
  t.true((await first.serve.launch()).ready);
  const target = await podTarget(first);
  await publishOk(t, first, 'v1', target);
  const rootDir = await gcRootDirFor(plain);
  const [view] = await viewNames(plain);
  t.true((await readdir(rootDir).catch(() => [] as string[])).some((name) => name.startsWith(`${view}-`)), `the root is in ${rootDir} (sha256 of the realpath)`);
  await first.serve.stop();

  const second = ServeNode.create(t, { dir: first.dir, stateDir: link, ns: first.ns, viewIdle: '0' });
  t.teardown(() => rm(gcRootDirForLiteral(link), { recursive: true, force: true }));
  t.true((await second.launch()).ready);
  t.is(codeName((await answer(second, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: target })).code), 'OK');
  t.deepEqual(await viewNames(plain), [], 'the view was collected');
  await first.clean(t, { stateDirAliases: [slashed, link, plain], allowPids: second.pid ? [second.pid] : [] });
});

// ---------------------------------------------------------------------------------------------
// Finding 9: a view is never visible without its GC root; a crash in between is repaired.
test.serial('finding 9: a live view found without its GC root at start gets one (crash between the rename into place and the root)', async (t) => {
  const node = await safetyNode(t);
  const target = await podTarget(node);
  await publishOk(t, node, 'v1', target);
  await node.serve.stop();
  const rootDir = await gcRootDirFor(node.stateDir);
  for (const name of await readdir(rootDir)) await unlink(join(rootDir, name));

  t.true((await node.serve.launch()).ready);
  const report = await node.clean(t, { liveTargets: [target] });
  t.is(report.views.length, 1);
  t.true(report.roots.length >= 1, 'the view is rooted again');
  t.is(codeName((await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: target })).code), 'OK');
  await node.clean(t);
});

// ---------------------------------------------------------------------------------------------
// Finding 10: a record leaves memory only after its file is gone.
test.serial('finding 10: unpublish with a read-only volumes/ is UNAVAILABLE and keeps the record; the retry after repair is OK and a restart does not bring it back', async (t) => {
  const node = await safetyNode(t);
  const target = await podTarget(node);
  await publishOk(t, node, 'v1', target);
  const volumes = join(node.stateDir, 'volumes');
  await node.ns.exec('mount', ['--bind', '-o', 'ro', volumes, volumes]);

  const failed = await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: target });
  t.is(codeName(failed.code), 'UNAVAILABLE', failed.details);
  t.true(failed.details.includes(volumes), `the message names the path: ${failed.details}`);
  t.is((await recordFiles(node.stateDir)).length, 1, 'the record file is still there');

  await node.ns.exec('umount', [volumes]);
  const retried = await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: target });
  t.is(codeName(retried.code), 'OK', retried.details);
  t.deepEqual(await recordFiles(node.stateDir), [], 'the record file is gone');
  t.deepEqual(await node.ns.mountsAt(target), []);
  t.true((await node.serve.restart()).ready);
  t.deepEqual(await recordFiles(node.stateDir), [], 'a restart does not bring it back');
  t.deepEqual(await viewNames(node.stateDir), [], 'nothing pins the view');
  await node.clean(t);
});

// ---------------------------------------------------------------------------------------------
// Finding 11: bounded input in messages; huge requests never stall the connection.
test.serial('finding 11: a 1 MiB key, a 1 MiB value, 10,000 store paths, 1,001 store paths and a 2 KiB volume id are INVALID_ARGUMENT with messages ≤ 4096 bytes, answered within 5 s without stalling the connection', async (t) => {
  const node = await safetyNode(t);
  const target = await podTarget(node);
  const fake = (i: number) => `/nix/store/${i.toString(32).padStart(32, '0').replace(/[eotu]/g, 'a')}-missing`;
  const cases: Array<[string, unknown, RegExp]> = [
    ['1 MiB key', publishRequest('v1', target, { ['k'.repeat(1 << 20)]: 'x', paths: node.fixture.root }), /1048576|1048320/],
    ['1 MiB value', publishRequest('v1', target, { paths: `/nix/store/${'a'.repeat(1 << 20)}` }), /1048|bytes/],
    ['10,000 paths', publishRequest('v1', target, { paths: Array.from({ length: 10_000 }, (_, i) => fake(i)).join(' ') }), /./],
    ['1,001 paths', publishRequest('v1', target, { paths: Array.from({ length: 1001 }, (_, i) => fake(i)).join(' ') }), /1000|1,000/],
    ['2 KiB volume id', publishRequest('v'.repeat(2048), target, { paths: node.fixture.root }), /1024|1 KiB/],
  ];
  for (const [name, request, mentions] of cases) {
    const [result, other] = await Promise.all([
      answer(node.serve, 'NodePublishVolume', request, 5_000),
      sleep(50).then(() => answer(node.serve, 'NodeGetCapabilities', {}, 5_000)),
    ]);
    t.is(codeName(result.code), 'INVALID_ARGUMENT', `${name}: ${result.details.slice(0, 300)}`);
    t.true(Buffer.byteLength(result.details) <= MAX_MESSAGE, `${name}: message of ${Buffer.byteLength(result.details)} bytes`);
    t.regex(result.details, mentions, `${name}: the message says what the limit or size is`);
    t.is(codeName(other.code), 'OK', `${name}: another call on the same connection answered (${other.ms} ms)`);
    t.true(result.ms < 5_000 && other.ms < 5_000, `${name}: answered in ${result.ms} ms / ${other.ms} ms`);
  }
  await node.clean(t);
});

test.serial('finding 11: 1,000 missing store paths are FAILED_PRECONDITION listing at most 10 and "and 990 more", ≤ 4096 bytes', async (t) => {
  const node = await safetyNode(t);
  const target = await podTarget(node);
  // Decimal digits are Nix base-32 digits, and zero padding keeps the 1,000 names distinct.
  const fake = (i: number) => `/nix/store/${String(i).padStart(32, '0')}-missing`;
  const result = await answer(node.serve, 'NodePublishVolume', publishRequest('v1', target, { paths: Array.from({ length: 1000 }, (_, i) => fake(i)).join('\n') }));
  t.is(codeName(result.code), 'FAILED_PRECONDITION', result.details.slice(0, 300));
  t.true(Buffer.byteLength(result.details) <= MAX_MESSAGE, `message of ${Buffer.byteLength(result.details)} bytes`);
  t.regex(result.details, /and 990 more/);
  t.true((result.details.match(/\/nix\/store\/[0-9a-z]{32}-missing/g) ?? []).length <= 10, 'at most 10 paths listed');
  t.deepEqual(await node.ns.mountsAt(target), []);
  await node.clean(t);
});

// ---------------------------------------------------------------------------------------------
// Finding 12: client errors never map to INTERNAL; the probe notices a read-only state dir.
test.serial('finding 12: NUL, a 300-byte component, a 5000-byte path, /dev/null, a file and a path under a file as targets answer INVALID_ARGUMENT / FAILED_PRECONDITION naming the path, never INTERNAL', async (t) => {
  const node = await safetyNode(t);
  const file = join(node.dir, 'a-file');
  await writeFile(file, 'not a directory');
  const long = `${node.dir}/${Array.from({ length: 500 }, () => 'abcdefghi').join('/')}`;
  const cases: Array<[string, string, string]> = [
    ['NUL', `${node.dir}/a\0b`, 'INVALID_ARGUMENT'],
    ['300-byte component', `${node.dir}/${'c'.repeat(300)}`, 'INVALID_ARGUMENT'],
    ['5000-byte path', long, 'INVALID_ARGUMENT'],
    ['/dev/null', '/dev/null', 'INVALID_ARGUMENT'],
    ['a regular file', file, 'FAILED_PRECONDITION'],
    ['below a regular file', join(file, 'mount'), 'FAILED_PRECONDITION'],
  ];
  for (const [name, target, code] of cases) {
    const result = await answer(node.serve, 'NodePublishVolume', publishRequest('v1', target, { paths: node.fixture.root }));
    t.is(codeName(result.code), code, `${name}: ${result.details.slice(0, 300)}`);
    t.true(Buffer.byteLength(result.details) <= MAX_MESSAGE);
    if (code === 'FAILED_PRECONDITION') t.true(result.details.includes(file), `${name}: names the path: ${result.details}`);
  }
  t.is(await readFile(file, 'utf8'), 'not a directory', 'the file is untouched');
  await node.clean(t);
});

test.serial('finding 12: unpublish from a directory that held files before the publish is OK and leaves the directory and its files (no raw ENOTEMPTY)', async (t) => {
  // Chosen behaviour: a publish over an existing non-empty directory mounts over it (as mount(8) does);
  // the directory was not created by nixmount, so unpublish leaves it and its contents.
  const node = await safetyNode(t);
  const target = await podTarget(node);
  await mkdir(target);
  await writeFile(join(target, 'keep'), 'mine');
  await publishOk(t, node, 'v1', target);
  const result = await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: target });
  t.is(codeName(result.code), 'OK', result.details);
  t.is(await readFile(join(target, 'keep'), 'utf8'), 'mine');
  t.deepEqual(await recordFiles(node.stateDir), []);
  await node.clean(t);
});

async function stateDirFault(t: import('ava').ExecutionContext, name: string, code: string, breakIt: (node: SafetyNode) => Promise<() => Promise<void>>, probeNotReady = true) {
  const node = await safetyNode(t);
  const target = await podTarget(node);
  const probeBefore = await node.serve.api.call('identity', 'Probe', {});
  t.true(probeBefore.ready?.value, 'ready before');
  const repair = await breakIt(node);
  t.teardown(() => repair().catch(() => undefined));
  if (probeNotReady) {
    const probe = await node.serve.api.call('identity', 'Probe', {});
    t.false(probe.ready?.value ?? true, `${name}: Probe answers not ready at once (no 10 s cache of "ready")`);
  }
  const result = await answer(node.serve, 'NodePublishVolume', publishRequest('v1', target, { paths: node.fixture.root }));
  t.is(codeName(result.code), code, `${name}: ${result.details}`);
  t.true(result.details.includes(node.stateDir), `${name}: the message names the path: ${result.details}`);
  t.deepEqual(await node.ns.mountsAt(target), [], `${name}: nothing mounted`);
  await repair();
  t.deepEqual(await viewNames(node.stateDir), [], `${name}: the view built for the failed publish is gone`);
  await node.clean(t);
}

test.serial('finding 12: a read-only state dir (EROFS) makes publish UNAVAILABLE naming it and Probe not ready at once', (t) =>
  stateDirFault(t, 'EROFS', 'UNAVAILABLE', async (node) => {
    await node.ns.exec('mount', ['--bind', '-o', 'ro', node.stateDir, node.stateDir]);
    return async () => void (await node.ns.exec('umount', [node.stateDir], false));
  }));

test.serial('finding 12: a full volumes/ (ENOSPC) makes publish RESOURCE_EXHAUSTED naming it and leaves nothing', (t) =>
  stateDirFault(t, 'ENOSPC', 'RESOURCE_EXHAUSTED', async (node) => {
    const volumes = join(node.stateDir, 'volumes');
    await node.ns.exec('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'full', volumes]);
    await node.ns.exec('sh', ['-c', `head -c 1048576 /dev/zero > ${volumes}/filler`], false);
    return async () => void (await node.ns.exec('umount', [volumes], false));
  }, false)); // the probe's own write may land outside volumes/, which still has room

test.serial('finding 12: an immutable state dir (EPERM) makes publish UNAVAILABLE naming it and Probe not ready at once', async (t) => {
  const probe = await execa('chattr', ['-V'], { reject: false });
  if (probe.exitCode === null || /not found/.test(probe.stderr)) return t.pass('chattr unavailable');
  return stateDirFault(t, 'EPERM', 'UNAVAILABLE', async (node) => {
    const volumes = join(node.stateDir, 'volumes');
    await execa('chattr', ['+i', volumes]);
    await execa('chattr', ['+i', node.stateDir]);
    return async () => {
      await execa('chattr', ['-i', volumes], { reject: false });
      await execa('chattr', ['-i', node.stateDir], { reject: false });
    };
  });
});

// ---------------------------------------------------------------------------------------------
// Finding 13: corrupt records are quarantined once, never re-logged.
test.serial('finding 13: a corrupt record is moved to quarantine/ at the first start and never logged again on later starts', async (t) => {
  const node = await safetyNode(t);
  const target = await podTarget(node);
  await publishOk(t, node, 'v1', target);
  const [file] = await recordFiles(node.stateDir);
  await node.serve.stop();
  await writeFile(join(node.stateDir, 'volumes', file!), '{"key": "trunc');
  t.true((await node.serve.launch()).ready);
  const key = file!.replace(/\.json$/, '');
  t.is(node.serve.logged(key, 50, 2).length, 1, 'logged once at error level at the first start');
  await node.serve.stop();
  t.true((await node.serve.launch()).ready);
  await node.serve.stop();
  t.true((await node.serve.launch()).ready);
  t.deepEqual(node.serve.logged(key, 40).filter((line) => line.generation > 2).map((line) => line.msg), [], 'never logged again');
  t.deepEqual(await recordFiles(node.stateDir), []);
  t.is((await readdir(join(node.stateDir, 'quarantine')).catch(() => [] as string[])).length, 1, 'one quarantined file, not one per start');
  const unpublish = await answer(node.serve, 'NodeUnpublishVolume', { volume_id: 'v1', target_path: target });
  t.is(codeName(unpublish.code), 'OK', unpublish.details);
  t.deepEqual(await node.ns.mountsAt(target), []);
  await node.clean(t);
});
