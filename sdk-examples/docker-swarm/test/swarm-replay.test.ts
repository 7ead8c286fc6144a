import test from 'ava';
import { CallFailed, closureOf, closureProblems, startPlugin } from 'nixmount/sdk/testkit';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADAPTER, exampleClosure, OFFLINE_NIX } from './package-files.js';
import { SwarmSim } from './swarm-harness.js';

// The Swarm replay harness against a real `nixmount serve --mode monolith --adapter-module`
// (the managed plugin runs both interfaces: Swarm's manager creates the volume through
// the controller, whose answer carries the --opt keys to the nodes). Root and Nix needed.

async function swarmPlugin(t: { teardown(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'swarm-replay-'));
  const published = join(dir, 'data/published');
  const staged = join(dir, 'data/staged');
  // The managed plugin's rootfs has /data/published (its propagatedMount) and /data/staged.
  await mkdir(published, { recursive: true });
  await mkdir(staged, { recursive: true });
  const plugin = await startPlugin(ADAPTER, {
    dir, env: OFFLINE_NIX, nodeId: 'swarm-node-1', args: ['--mode', 'monolith'],
    adapterOptions: { 'published-dir': published, 'staged-dir': staged },
  });
  t.teardown(async () => {
    await plugin.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { plugin, swarm: new SwarmSim(plugin, published, staged) };
}

test('docker volume create --opt paths=… --scope multi --sharing readonly, a task uses it read-only, nothing is left after removal', async (t) => {
  const closure = await exampleClosure();
  const { plugin, swarm } = await swarmPlugin(t);
  const volume = await swarm.createVolume({ name: 'site', swarmId: 'n4m3df0s8e2tq7w1c9y5x3k0p', opts: { paths: closure }, scope: 'multi', sharing: 'readonly' });
  t.deepEqual(volume.volumeContext, { paths: closure }, 'the controller answers with the --opt keys as the volume context');
  t.is((await swarm.startNode()).node_id, 'swarm-node-1');
  const target = await swarm.useVolume(volume);
  t.deepEqual(await closureProblems(plugin, target, await closureOf(closure, OFFLINE_NIX)), []);
  const name = closure.slice('/nix/store/'.length);
  t.regex(await readFile(join(target, 'store', name, 'bin/serve'), 'utf8'), /^#!\/bin\/sh\nexec cat \/nix\/store\/.*-swarm-example-site\/www\/index.html\n$/);
  const write = await writeFile(join(target, 'store', 'x'), 'x').then(() => 'written', (error: NodeJS.ErrnoException) => error.code);
  t.is(write, 'EROFS', '--sharing readonly is mounted read-only');
  await swarm.releaseVolume(volume);
  await swarm.removeVolume(volume);
  t.deepEqual(swarm.calls, [
    'Probe', 'GetPluginCapabilities', 'ControllerGetCapabilities', 'CreateVolume',
    'Probe', 'NodeGetCapabilities', 'NodeGetInfo', 'NodeStageVolume', 'NodePublishVolume',
    'NodeUnpublishVolume', 'NodeUnstageVolume', 'DeleteVolume',
  ]);
  t.deepEqual(await plugin.leftovers([target, swarm.stagingPath(volume)]), []);
  t.deepEqual(await plugin.stop(), []);
});

test('--sharing all gives a writable overlay per node that is gone after release; --scope multi --sharing none is refused by name', async (t) => {
  const closure = await exampleClosure();
  const { plugin, swarm } = await swarmPlugin(t);
  await swarm.startNode();
  const shared = await swarm.createVolume({ name: 'scratch', swarmId: 'q2w3e4r5t6y7u8i9o0p1a2s3d', opts: { paths: closure }, scope: 'multi', sharing: 'all' });
  const target = await swarm.useVolume(shared);
  await writeFile(join(target, 'scratch.txt'), 'mine');
  t.is(await readFile(join(target, 'scratch.txt'), 'utf8'), 'mine');
  await swarm.releaseVolume(shared);
  await swarm.removeVolume(shared);
  t.deepEqual(await plugin.leftovers([target]), []);

  const none = await swarm.createVolume({ name: 'unusable', swarmId: 'z9x8c7v6b5n4m3l2k1j0h9g8f', opts: { paths: closure }, scope: 'multi', sharing: 'none' }).catch((error: unknown) => error);
  t.true(none instanceof CallFailed);
  t.is((none as CallFailed).codeName, 'INVALID_ARGUMENT');
});

test('a --opt key nixmount does not know is refused by name when the volume is created', async (t) => {
  const { swarm } = await swarmPlugin(t);
  const error = await swarm.createVolume({ name: 'typo', swarmId: 'a0a0a0a0a0a0a0a0a0a0a0a0a', opts: { path: '/nix/store/x' }, scope: 'single', sharing: 'none' }).catch((e: unknown) => e);
  t.true(error instanceof CallFailed);
  t.is((error as CallFailed).codeName, 'INVALID_ARGUMENT');
  t.regex((error as CallFailed).details, /unknown volume context key "path"/);
});
