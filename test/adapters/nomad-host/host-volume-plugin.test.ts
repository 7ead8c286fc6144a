import test from 'ava';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { readVolumeSpec } from '../../../src/adapters/nomad/tooling/volume-spec-file.js';
import { mountsBelow } from '../../helpers/mounts.js';
import { buildFixture, copyToChrootStore, FIXTURES, FIXTURES_DIR, nixEnv, type Fixture } from '../../helpers/nix.js';
import { tempDir } from '../../helpers/temp.js';
import { JOBS_DIR } from '../nomad/shipped-jobs.js';
import { startGatedCache } from '../../helpers/gated-cache.js';
import { CLI } from '../../helpers/serve-process.js';
import { assertClosureAt, volumeMountsBelow, assertFailed, assertNothingLeft, assertOk, entries, exists, node, request } from './host-volume-node.js';
import { OPERATION_TIMEOUT_MS } from './nomad-host-client.js';
import { wrapperScript } from '../../../src/cli/host-volume-wrapper.js';
import { packageVersion } from '../../../src/settings/version.js';
import { START_BY_MS } from '../../../src/adapters/nomad-host/host-volume-deadlines.js';

// Serial: each test runs the real plugin, Nix and mounts, and the fingerprint test
// runs under Nomad's 1-second limit, which a dozen concurrent creates would distort.
const SPEC = 'host-volume-hello.volume.hcl';

/** The shipped spec's parameters with its (machine-specific) store path replaced by the fixture's root. */
async function shippedParameters(fixture: Fixture): Promise<Record<string, string>> {
  const spec = readVolumeSpec(await readFile(`${JOBS_DIR}${SPEC}`, 'utf8'), `jobs/${SPEC}`);
  return Object.fromEntries(Object.entries(spec.parameters).map(([key, value]) => [key, value.startsWith('/nix/store/') ? fixture.root : value]));
}

test.serial('fingerprint: the version JSON, with nothing but DHV_OPERATION, within Nomad\'s 1 s', async (t) => {
  const n = await node(t);
  const call = await n.client.fingerprint();
  assertOk(t, call);
  t.false(call.killed, 'answered before Nomad\'s 1-second context ran out');
  t.regex(String(call.json?.version), /^\d+\.\d+\.\d+$/, 'a version hashicorp/go-version parses');
  t.false(await exists(n.stateDir), 'fingerprint touches no state');
});

test.serial('fingerprint is the wrapper\'s own: it answers with node unrunnable, byte for byte what `nixmount host-volume fingerprint` prints; anything else fingerprint-like still goes to nixmount', async (t) => {
  const dir = await tempDir(t, 'nixmount-hostvol-fp-');
  const wrapper = join(dir, 'nixmount');
  // A wrapper whose node cannot start: only an answer from the shell itself gets through.
  await writeFile(wrapper, wrapperScript({ name: 'nixmount', path: '/usr/bin:/bin' }, join(dir, 'no-such-node'), CLI), { mode: 0o755 });
  const viaShell = await execa(wrapper, ['fingerprint'], { env: { DHV_OPERATION: 'fingerprint' }, extendEnv: false, cwd: '/', reject: false, stripFinalNewline: false });
  const viaNode = await execa('node', [CLI, 'host-volume', 'fingerprint'], { env: { DHV_OPERATION: 'fingerprint' }, extendEnv: false, cwd: '/', stripFinalNewline: false });
  t.is(viaShell.exitCode, 0, viaShell.stderr);
  t.is(viaShell.stdout, viaNode.stdout, 'the same bytes, newline included');
  t.is(viaNode.stdout, `${JSON.stringify({ version: packageVersion() })}\n`);
  t.is(viaShell.stderr, '');
  // Nomad's fingerprint sets DHV_OPERATION; without it (a person trying the plugin) the answer is the same.
  t.is((await execa(wrapper, ['fingerprint'], { env: {}, extendEnv: false, cwd: '/' , stripFinalNewline: false })).stdout, viaNode.stdout);
  // Not the plain call: nixmount refuses it with its usage (here: node cannot start, so not 0 either way).
  for (const [args, env] of [[['fingerprint', 'extra'], { DHV_OPERATION: 'fingerprint' }], [['fingerprint'], { DHV_OPERATION: 'create' }]] as const) {
    const refused = await execa(wrapper, [...args], { env, extendEnv: false, cwd: '/', reject: false });
    t.not(refused.exitCode, 0, `${args.join(' ')} with DHV_OPERATION=${env.DHV_OPERATION}`);
    t.not(refused.stdout, viaNode.stdout.trimEnd());
  }
  const contradicted = await execa('node', [CLI, 'host-volume', 'fingerprint'], { env: { DHV_OPERATION: 'create' }, extendEnv: false, cwd: '/', reject: false });
  t.is(contradicted.exitCode, 2);
  t.regex(JSON.parse(contradicted.stdout).error as string, /the argument says "fingerprint" but DHV_OPERATION says "create"/);
});

test.serial('a reinstall after an upgrade updates the version the wrapper answers fingerprint with', async (t) => {
  const n = await node(t);
  const wrapper = n.client.executable;
  const installed = await readFile(wrapper, 'utf8');
  // What an older nixmount wrote: the same wrapper with its version.
  const older = wrapperScript({ name: 'nixmount', path: '/usr/bin:/bin', config: join(n.dir, 'host-volume.json'), lockFile: join(n.dir, 'plugin.lock') }, process.execPath, CLI, '0.0.1');
  await writeFile(wrapper, older, { mode: 0o755 });
  t.deepEqual((await n.client.fingerprint()).json, { version: '0.0.1' });
  await execa('node', [CLI, 'host-volume', 'install', '--plugin-dir', n.client.pluginDir, '--config', join(n.dir, 'host-volume.json'), '--lock-file', join(n.dir, 'plugin.lock')]);
  const upgraded = await n.client.fingerprint();
  assertOk(t, upgraded);
  t.deepEqual(upgraded.json, { version: packageVersion() });
  t.is(await readFile(wrapper, 'utf8'), installed, 'the same wrapper as a fresh install');
});

test.serial('create, retried create, delete, delete again: the closure read-only at DHV_VOLUMES_DIR/DHV_VOLUME_ID, then nothing left', async (t) => {
  const fixture = await buildFixture('hostvol');
  const n = await node(t);
  const req = request(await shippedParameters({ ...fixture, root: fixture.root }));
  const path = join(n.volumesDir, req.id);

  const created = await n.client.create(req);
  assertOk(t, created);
  t.deepEqual(created.json, { path, bytes: 0 });
  await assertClosureAt(t, n, path, fixture);
  t.is((await entries(join(n.stateDir, 'volumes'))).length, 1);
  t.is((await entries(join(n.stateDir, 'views'))).length, 1);
  const views = await entries(join(n.stateDir, 'views'));

  // Nomad runs create again on a retry and for every volume at agent start: same answer, nothing new.
  const again = await n.client.create(req);
  assertOk(t, again);
  t.deepEqual(again.json, created.json);
  await assertClosureAt(t, n, path, fixture);
  t.deepEqual(await entries(join(n.stateDir, 'views')), views);

  const deleted = await n.client.delete(req, path);
  assertOk(t, deleted);
  await assertNothingLeft(t, n);

  const deletedAgain = await n.client.delete(req, path);
  assertOk(t, deletedAgain);
  await assertNothingLeft(t, n);
});

test.serial('create after the mount vanished (a reboot: Nomad re-runs create at agent start) mounts again', async (t) => {
  const fixture = await buildFixture('hostvol');
  const n = await node(t);
  const req = request({ paths: fixture.root });
  const path = join(n.volumesDir, req.id);
  assertOk(t, await n.client.create(req));
  await execa('umount', ['--recursive', path]); // a bind-farm volume is a tree: a reboot takes it whole
  t.deepEqual(await mountsBelow(n.volumesDir), []);
  const restored = await n.client.create(req);
  assertOk(t, restored);
  t.deepEqual(restored.json, { path, bytes: 0 });
  await assertClosureAt(t, n, path, fixture);
  assertOk(t, await n.client.delete(req, path));
  await assertNothingLeft(t, n);
});

test.serial('delete derives its path from DHV_VOLUMES_DIR/DHV_VOLUME_ID: the volumes dir Nomad passes after a failed state save is never touched', async (t) => {
  const fixture = await buildFixture('hostvol');
  const n = await node(t);
  const a = request({ paths: fixture.root }, 'a');
  const b = request({ paths: fixture.root }, 'b');
  assertOk(t, await n.client.create(a));
  assertOk(t, await n.client.create(b));
  t.is((await entries(join(n.stateDir, 'views'))).length, 1, 'one view for one closure');
  // Nomad's cleanup delete after "failed to save volume in client state" sets DHV_CREATED_PATH to the volumes dir.
  assertOk(t, await n.client.delete(a, n.volumesDir));
  t.deepEqual(await volumeMountsBelow(n.volumesDir), [join(n.volumesDir, b.id)], 'the other volume stays mounted');
  t.deepEqual(await entries(n.volumesDir), [b.id]);
  await assertClosureAt(t, n, join(n.volumesDir, b.id), fixture);
  assertOk(t, await n.client.delete(b, join(n.volumesDir, b.id)));
  await assertNothingLeft(t, n);
});

test.serial('concurrent creates of different volumes (Nomad runs them in parallel) all succeed, sharing one view', async (t) => {
  const fixture = await buildFixture('hostvol');
  const n = await node(t);
  const reqs = [request({ paths: fixture.root }, 'c1'), request({ paths: fixture.root }, 'c2'), request({ paths: fixture.root }, 'c3')];
  const calls = await Promise.all(reqs.map((r) => n.client.create(r)));
  for (const call of calls) assertOk(t, call);
  t.deepEqual((await volumeMountsBelow(n.volumesDir)).sort(), reqs.map((r) => join(n.volumesDir, r.id)).sort());
  t.is((await entries(join(n.stateDir, 'views'))).length, 1);
  const deletes = await Promise.all(reqs.map((r) => n.client.delete(r, join(n.volumesDir, r.id))));
  for (const call of deletes) assertOk(t, call);
  await assertNothingLeft(t, n);
});

const badParameters: Array<[string, Record<string, string> | null, RegExp]> = [
  ['no parameters block', null, /names no closure/],
  ['a typo in a key', { path: '/nix/store/63l345l7dgcfz789w1y93j1540czafqh-hello-2.12.1' }, /unknown volume context key "path"/],
  ['not a store path', { paths: '/usr/bin' }, /paths: "\/usr\/bin" is not under \/nix\/store\//],
  ['a readOnly that is neither true nor false', { paths: '/nix/store/63l345l7dgcfz789w1y93j1540czafqh-hello-2.12.1', readOnly: 'no' }, /readOnly "no" must be "true" \(the default\) or "false"/],
  ['an expression the node policy does not allow', { expression: 'import <nixpkgs> {}' }, /the "expression" key is refused by this node's source policy/],
];

for (const [what, parameters, pattern] of badParameters) {
  test.serial(`bad parameters (${what}): non-zero exit, one line Nomad shows, nothing left`, async (t) => {
    const n = await node(t);
    const req = request(parameters);
    const call = await n.client.create(req);
    assertFailed(t, call, pattern);
    await assertNothingLeft(t, n);
    // Nomad's delete after the failed create is fine too.
    assertOk(t, await n.client.delete(req, join(n.volumesDir, req.id)));
    await assertNothingLeft(t, n);
  });
}

test.serial('a store path the node cannot get: non-zero exit, one line, the half-made volume rolled back', async (t) => {
  const n = await node(t);
  const req = request({ paths: '/nix/store/00000000000000000000000000000000-nixmount-missing' });
  const call = await n.client.create(req);
  assertFailed(t, call, /store paths not available on this node.*00000000000000000000000000000000-nixmount-missing/);
  await assertNothingLeft(t, n);
});

test.serial('readOnly = "false": a writable overlay for the volume, the node store untouched; delete removes the overlay', async (t) => {
  const fixture = await buildFixture('hostvol');
  const n = await node(t);
  const req = request({ paths: fixture.root, readOnly: 'false' });
  const path = join(n.volumesDir, req.id);
  const created = await n.client.create(req);
  assertOk(t, created);
  t.deepEqual(created.json, { path, bytes: 0 });
  await writeFile(join(path, 'scratch'), 'mine');
  t.is(await readFile(join(path, 'scratch'), 'utf8'), 'mine');
  t.false(await exists(join(n.stateDir, 'views', (await entries(join(n.stateDir, 'views')))[0]!, 'nix', 'scratch')), 'the view is not written');
  t.is((await entries(join(n.stateDir, 'overlays'))).length, 1);
  assertOk(t, await n.client.delete(req, path));
  await assertNothingLeft(t, n);
});

test.serial('a chroot-store node (store = local?root=DIR in the node config): the chroot store\'s inodes, then nothing left', async (t) => {
  const fixture = await buildFixture('hostvol-chroot');
  const storeDir = await tempDir(t, 'nixmount-hostvol-store-');
  await copyToChrootStore(storeDir, [fixture.root]);
  const n = await node(t, { store: `local?root=${storeDir}` }, storeDir);
  const req = request({ paths: fixture.root });
  const path = join(n.volumesDir, req.id);
  const created = await n.client.create(req);
  assertOk(t, created);
  t.deepEqual(created.json, { path, bytes: 0 });
  await assertClosureAt(t, n, path, fixture);
  const data = fixture.closure.find((p) => p.includes('fixture-data'))!;
  const nodeStore = await stat(join(data, 'share/greeting'));
  const inVolume = await stat(join(path, 'store', data.slice('/nix/store/'.length), 'share/greeting'));
  t.not(`${inVolume.dev}:${inVolume.ino}`, `${nodeStore.dev}:${nodeStore.ino}`, 'the chroot store, not the host\'s /nix/store');
  assertOk(t, await n.client.delete(req, path));
  await assertNothingLeft(t, n);
});

test.serial('the node config is the source policy: an expression refused by default is created once the config allows expressions', async (t) => {
  const fixture = await buildFixture('hostvol');
  const expression = `import ${FIXTURES}closure.nix { salt = "hostvol"; }`;
  const strict = await node(t);
  assertFailed(t, await strict.client.create(request({ expression })), /refused by this node's source policy/);
  await assertNothingLeft(t, strict);

  // Restricted evaluation reads the fixture as it would a node's --nix-path entry.
  const open = await node(t, { 'allow-sources': 'paths,expressions', 'nix-path': FIXTURES_DIR });
  const req = request({ expression });
  const path = join(open.volumesDir, req.id);
  const created = await open.client.create(req);
  assertOk(t, created);
  t.deepEqual(created.json, { path, bytes: 0 });
  await assertClosureAt(t, open, path, fixture);
  assertOk(t, await open.client.delete(req, path));
  await assertNothingLeft(t, open);
});

test.serial('a node config with an unknown key fails the create with the key named, touching nothing', async (t) => {
  const n = await node(t, { 'allow-source': 'paths' });
  const fixture = await buildFixture('hostvol');
  const call = await n.client.create(request({ paths: fixture.root }));
  assertFailed(t, call, /unknown key "allow-source"/);
  await assertNothingLeft(t, n);
});

test.serial('with a view-idle in the node config, delete keeps the unused view for a later create; nixmount gc removes it', async (t) => {
  const fixture = await buildFixture('hostvol');
  const n = await node(t, { 'view-idle': '15m' });
  const first = request({ paths: fixture.root });
  assertOk(t, await n.client.create(first));
  const views = await entries(join(n.stateDir, 'views'));
  t.is(views.length, 1);
  assertOk(t, await n.client.delete(first, join(n.volumesDir, first.id)));
  // The kept view's bind farm stays with it, in the state dir alone.
  t.deepEqual((await mountsBelow(n.dir)).filter((point) => !point.startsWith(`${join(n.stateDir, 'views')}/`)), []);
  t.deepEqual(await entries(join(n.stateDir, 'volumes')), []);
  t.deepEqual(await entries(join(n.stateDir, 'views')), views, 'kept for view-idle');
  const second = request({ paths: fixture.root });
  assertOk(t, await n.client.create(second));
  t.deepEqual(await entries(join(n.stateDir, 'views')), views, 'reused');
  assertOk(t, await n.client.delete(second, join(n.volumesDir, second.id)));
  const gc = await execa('node', [CLI, 'gc', '--state-dir', n.stateDir]);
  t.regex(gc.stdout, /removed 1 unused view/);
  await assertNothingLeft(t, n);
});

test.serial('a closure slower than Nomad\'s 60 s: create fails cleanly before the kill, nothing left; the retry once the cache answers creates it', async (t) => {
  const fixture = await buildFixture('hostvol-slow');
  const cache = await startGatedCache(t, [fixture.root]);
  const storeDir = await tempDir(t, 'nixmount-hostvol-store-');
  // Nix itself must not give up first: it waits on the held cache longer than Nomad would.
  const n = await node(t, { store: `local?root=${storeDir}`, substituters: cache.url, 'trusted-public-keys': cache.publicKey, 'stalled-download-timeout': '300s' }, storeDir);
  const req = request({ paths: fixture.root });
  const started = Date.now();
  const call = await n.client.create(req);
  const took = Date.now() - started;
  assertFailed(t, call, /the closure was not ready within Nomad's 60-second limit .*run the create again/);
  t.true(took < OPERATION_TIMEOUT_MS, `answered after ${took} ms, before Nomad's kill`);
  await assertNothingLeft(t, n);
  t.false(await exists(join(storeDir, fixture.root)), 'the held substitution did not complete behind Nomad\'s back');

  cache.open();
  const retry = await n.client.create(req);
  assertOk(t, retry);
  t.deepEqual(retry.json, { path: join(n.volumesDir, req.id), bytes: 0 });
  await assertClosureAt(t, n, join(n.volumesDir, req.id), fixture);
  assertOk(t, await n.client.delete(req, join(n.volumesDir, req.id)));
  await assertNothingLeft(t, n);
});

test.serial('a volume id that is not one path component, an unknown operation, or an operation the environment contradicts: refused, nothing made', async (t) => {
  const fixture = await buildFixture('hostvol');
  const n = await node(t);
  for (const id of ['..', 'a/b', '.']) {
    const call = await n.client.create({ id, name: 'evil', parameters: { paths: fixture.root } });
    assertFailed(t, call, /DHV_VOLUME_ID ".*" cannot name a directory/);
  }
  await assertNothingLeft(t, n);
  t.deepEqual(await entries(n.dir), ['host-volume.json', 'host_volume_plugins', 'host_volumes', 'plugin.lock'], 'nothing next to the volumes dir either');

  const env = { DHV_OPERATION: 'create', DHV_VOLUMES_DIR: n.volumesDir, DHV_VOLUME_ID: 'x', DHV_PARAMETERS: JSON.stringify({ paths: fixture.root }) };
  const unknown = await execa(n.client.executable, ['resize'], { env: { ...env, DHV_OPERATION: 'resize' }, extendEnv: false, cwd: '/', reject: false });
  t.is(unknown.exitCode, 2);
  t.regex(JSON.parse(unknown.stdout).error as string, /unknown operation "resize": a host volume plugin answers fingerprint, create, delete/);
  const contradicted = await execa(n.client.executable, ['create'], { env: { ...env, DHV_OPERATION: 'delete' }, extendEnv: false, cwd: '/', reject: false });
  t.is(contradicted.exitCode, 2);
  t.regex(JSON.parse(contradicted.stdout).error as string, /the argument says "create" but DHV_OPERATION says "delete"/);
  await assertNothingLeft(t, n);
});

test.serial('create again with other parameters (a volume spec changed under the same id) is refused, and the volume stays as it was', async (t) => {
  const fixture = await buildFixture('hostvol');
  const other = await buildFixture('hostvol-other');
  const n = await node(t);
  const req = request({ paths: fixture.root });
  const path = join(n.volumesDir, req.id);
  assertOk(t, await n.client.create(req));
  const changed = await n.client.create({ ...req, parameters: { paths: other.root } });
  assertFailed(t, changed, /volume .* already exists on this node with other parameters .*; nixmount does not change a volume in place: delete it and create it again/);
  await assertClosureAt(t, n, path, fixture);
  assertOk(t, await n.client.delete(req, path));
  await assertNothingLeft(t, n);
});

test.serial('a volumes dir that does not exist yet is created for the first volume, and stays after delete (it is Nomad\'s)', async (t) => {
  const fixture = await buildFixture('hostvol');
  const n = await node(t);
  await rm(n.volumesDir, { recursive: true });
  const req = request({ paths: fixture.root });
  const path = join(n.volumesDir, req.id);
  const created = await n.client.create(req);
  assertOk(t, created);
  t.deepEqual(created.json, { path, bytes: 0 });
  await assertClosureAt(t, n, path, fixture);
  assertOk(t, await n.client.delete(req, path));
  t.true((await stat(n.volumesDir)).isDirectory());
  await assertNothingLeft(t, n);
});

test.serial('a create whose wrapper started more than 45 s ago (queued that long) begins nothing: refused at once, nothing left', async (t) => {
  const fixture = await buildFixture('hostvol');
  const n = await node(t);
  const req = request({ paths: fixture.root });
  const startedAt = String(Math.floor((Date.now() - START_BY_MS - 1_000) / 1000));
  const call = await execa('node', [CLI, 'host-volume', '--config', join(n.dir, 'host-volume.json'), '--started-at', startedAt, 'create'], {
    env: { ...nixEnv, DHV_OPERATION: 'create', DHV_VOLUMES_DIR: n.volumesDir, DHV_VOLUME_ID: req.id, DHV_PARAMETERS: JSON.stringify(req.parameters) },
    reject: false,
  });
  t.is(call.exitCode, 1, call.stderr);
  t.regex(JSON.parse(call.stdout).error as string, /^the create could not begin within 45 s of the plugin's start .*; nothing was done: run it again$/);
  await assertNothingLeft(t, n);
  t.false(await exists(n.stateDir), 'the state dir was not even made');
});
