// `npm run demo`: nixmount end to end on this machine, explained step by step.
// Builds a small closure offline, starts `nixmount serve`, publishes the closure
// through the real CSI socket (read-only and read-write), runs a program from it,
// shows inode sharing and write protection, then cleans everything up.
import { execa, type ResultPromise } from 'execa';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CsiClient } from '../src/csi/csi-client.js';
import { readMountInfo } from '../src/platform/mountinfo.js';
import { offlineNixEnv } from '../support/nix-env.js';
import { startServeProcess } from '../support/serve-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let stepNumber = 0;
function step(title: string): void {
  stepNumber++;
  console.log(`\n\x1b[1m${stepNumber}. ${title}\x1b[0m`);
}
function say(text: string): void {
  console.log(`   ${text}`);
}

/** The demo's scratch space must share a filesystem with /nix/store: views are hardlinks into it. */
async function scratchDir(): Promise<string> {
  await mkdir('/nix/var', { recursive: true });
  const base = (await stat('/tmp')).dev === (await stat('/nix/var')).dev ? '/tmp' : '/nix/var';
  return mkdtemp(join(base, 'nixmount-demo-'));
}

async function main(): Promise<void> {
  const dir = await scratchDir();
  const socket = join(dir, 'csi.sock');
  const stateDir = join(dir, 'state');
  let server: ResultPromise | undefined;
  let client: CsiClient | undefined;
  const targets: string[] = [];
  try {
    step('Build a small Nix closure, offline');
    const built = await execa('nix-build', [join(ROOT, 'demo/example.nix'), '--no-out-link'], { env: offlineNixEnv });
    const root = built.stdout.trim().split('\n').pop()!;
    const closure = (await execa('nix-store', ['-qR', root], { env: offlineNixEnv })).stdout.trim().split('\n');
    say(`root: ${root}`);
    say(`its closure has ${closure.length} store paths:`);
    for (const path of closure) say(`  ${path}`);

    step('Start the plugin: nixmount serve on a unix socket (as kubelet or Nomad would talk to it)');
    ({ child: server, client } = await startServeProcess(
      ['--endpoint', `unix://${socket}`, '--state-dir', stateDir, '--node-id', 'demo-node', '--substituters', '', '--view-idle', '0'],
      socket,
      { stdio: ['ignore', 'inherit', 'inherit'] },
    ));
    const info = await client.call('identity', 'GetPluginInfo');
    say(`plugin ${info.name} ${info.vendor_version} is ready on ${socket}`);

    step('Publish the closure as a read-only volume (what a pod or allocation gets at /nix)');
    const roTarget = join(dir, 'workloads/reader/nix');
    await mkdir(join(dir, 'workloads/reader'), { recursive: true });
    const capability = { mount: { fs_type: '', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
    await client.call('node', 'NodePublishVolume', { volume_id: 'demo-ro', target_path: roTarget, volume_capability: capability, readonly: true, volume_context: { paths: root } });
    targets.push(roTarget);
    const entry = (await readMountInfo()).filter((m) => m.mountPoint === roTarget).pop();
    say(`mounted at ${roTarget} (${entry?.options.join(',')})`);
    say(`it contains: ${(await readdir(roTarget)).join(', ')}  — store/ holds the closure, var/result points at the root`);

    step('Run a program from the volume, with the volume as /nix (a private mount namespace, as in a container)');
    const run = await execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount --bind ${roTarget} /nix && /nix/var/result/bin/hello`]);
    say(`$ /nix/var/result/bin/hello`);
    say(`> ${run.stdout}`);

    step('The files are the node store\'s own files: same inode, so workloads share page cache');
    const message = closure.find((p) => p.includes('demo-message'))!;
    const inStore = join(message, 'share/message.txt');
    const inVolume = join(roTarget, inStore.slice('/nix/'.length));
    const [a, b] = [await stat(inStore), await stat(inVolume)];
    say(`node store: inode ${a.ino}  ${inStore}`);
    say(`volume:     inode ${b.ino}  ${inVolume}`);
    if (a.ino !== b.ino) throw new Error('inodes differ');

    step('A read-only volume refuses writes');
    const refused = await writeFile(join(roTarget, 'store/intruder'), 'x').then(() => 'accepted', (e: NodeJS.ErrnoException) => e.code);
    say(`writing into the volume: ${refused}`);
    if (refused !== 'EROFS') throw new Error('the read-only volume accepted a write');

    step('Publish the same closure read-write: an overlay, so writes stay in this volume');
    const rwTarget = join(dir, 'workloads/writer/nix');
    await mkdir(join(dir, 'workloads/writer'), { recursive: true });
    await client.call('node', 'NodePublishVolume', { volume_id: 'demo-rw', target_path: rwTarget, volume_capability: capability, readonly: false, volume_context: { paths: root } });
    targets.push(rwTarget);
    await writeFile(join(rwTarget, inStore.slice('/nix/'.length)), 'changed inside the read-write volume\n');
    say(`the volume now reads: ${(await readFile(join(rwTarget, inStore.slice('/nix/'.length)), 'utf8')).trim()}`);
    say(`the node store still reads: ${(await readFile(inStore, 'utf8')).trim()}`);
    say(`views built on this node: ${(await readdir(join(stateDir, 'views'))).length} (both volumes share one)`);

    step('Unpublish both volumes');
    for (const [volumeId, target] of [['demo-ro', roTarget], ['demo-rw', rwTarget]] as const) {
      await client.call('node', 'NodeUnpublishVolume', { volume_id: volumeId, target_path: target });
      say(`${target}: unmounted and removed`);
    }
    targets.length = 0;
    const left = (await readMountInfo()).filter((m) => m.mountPoint.startsWith(dir));
    say(`mounts left: ${left.length}; views left: ${(await readdir(join(stateDir, 'views'))).length}`);

    step('Stop the plugin (SIGTERM: graceful shutdown)');
    client.close();
    client = undefined;
    server.kill('SIGTERM');
    const exit = await server;
    server = undefined;
    say(`nixmount serve exited with code ${exit.exitCode}`);
    if (exit.exitCode !== 0) throw new Error('the plugin did not stop cleanly');
    console.log('\nDemo finished: a Nix closure was mounted as a CSI volume, used, and cleaned up.');
  } finally {
    client?.close();
    for (const target of targets) await execa('umount', ['-l', target], { reject: false });
    if (server) {
      server.kill('SIGKILL');
      await server.catch(() => undefined);
    }
    for (const m of (await readMountInfo()).filter((e) => e.mountPoint.startsWith(dir)).reverse()) {
      await execa('umount', ['-l', m.mountPoint], { reject: false });
    }
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
