import test from 'ava';
import { copyFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { mountCapability } from '../helpers/csi-client.js';
import { CsiClient } from '../helpers/csi-client.js';
import { mountsBelow } from '../helpers/mounts.js';
import { mountHelperPids } from '../helpers/processes.js';
import { buildFixture, copyToChrootStore } from '../helpers/nix.js';
import { tempDir } from '../helpers/temp.js';
import { REPO } from '../deploy/nixos-node.js';
import { IMAGE, PODMAN_ENV, report, rssMiB } from './podman.js';

// The single-file binary (`npm run binary`) on a Debian 12 without Node: the image's root
// filesystem (Debian 12, nix-bin, util-linux) with Node and the plugin taken out, as a chroot.
const BINARY = join(REPO, 'dist/binary/nixmount');

async function debianWithoutNode(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const root = join(await tempDir(t, 'nixmount-chroot-'), 'root');
  await mkdir(root);
  const created = await execa('podman', ['create', IMAGE], { env: PODMAN_ENV });
  const id = created.stdout.trim();
  try {
    await execa('sh', ['-c', `podman export ${id} | tar -x -C ${root}`], { env: PODMAN_ENV });
  } finally {
    await execa('podman', ['rm', id], { env: PODMAN_ENV, reject: false });
  }
  await rm(join(root, 'usr/local/bin/node'));
  await rm(join(root, 'usr/local/bin/nixmount'));
  await rm(join(root, 'opt/nixmount'), { recursive: true });
  await copyFile(BINARY, join(root, 'usr/local/bin/nixmount'));
  await execa('chmod', ['0755', join(root, 'usr/local/bin/nixmount')]);
  await mkdir(join(root, 'nix'), { recursive: true });
  // The chroot's root is a mount of its own, as a container's root filesystem is: nixmount reads
  // the mount table to prove a mount is its own, and in a chroot that is no mount the table has
  // no entry for the filesystem holding its views.
  await execa('mount', ['--bind', root, root]);
  for (const [fs, dir] of [['proc', 'proc'], ['/dev', 'dev']] as const) {
    await mkdir(join(root, dir), { recursive: true });
    if (fs === 'proc') await execa('mount', ['-t', 'proc', 'proc', join(root, dir)]);
    else await execa('mount', ['--rbind', fs, join(root, dir)]);
  }
  return root;
}

test('the binary runs `--help` and `serve` in a Debian 12 chroot without Node, and publishes a closure from the chroot\'s store', async (t) => {
  const size = (await stat(BINARY)).size / 1e6;
  await report(`binary ${BINARY} size ${size.toFixed(1)} MB`);
  const fixture = await buildFixture('-binary');
  const root = await debianWithoutNode(t);
  const noNode = await execa('chroot', [root, '/bin/sh', '-c', 'command -v node nodejs; ls /usr/bin/node* /usr/local/bin/node* 2>/dev/null; find / -xdev -name "libnode*" 2>/dev/null'], { reject: false });
  t.is(noNode.stdout, '', 'no node in the chroot');

  const help = await execa('chroot', [root, '/usr/local/bin/nixmount', '--help'], { reject: false });
  t.is(help.exitCode, 0);
  t.regex(help.stdout, /usage: nixmount <command>/);
  // It cannot load adapter modules, and says so when it parses its options, not at the import.
  const moduleRefused = await execa('chroot', [root, '/usr/local/bin/nixmount', 'serve', '--adapter-module', '/adapter.mjs'], { reject: false });
  t.is(moduleRefused.exitCode, 2);
  t.regex(moduleRefused.stderr, /^nixmount serve: --adapter-module: the single nixmount binary cannot load adapter modules/);

  await copyToChrootStore(root, [fixture.root]);
  const socket = join(root, 'run/nixmount/csi.sock');
  const serve = execa('chroot', [root, '/usr/local/bin/nixmount', 'serve', '--endpoint', 'unix:///run/nixmount/csi.sock', '--node-id', 'bin-1', '--state-dir', '/nix/var/nixmount', '--substituters', ''], {
    reject: false,
    all: true,
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' },
    extendEnv: false,
  });
  const client = new CsiClient(socket);
  t.teardown(async () => {
    client.close();
    serve.kill('SIGKILL');
    await serve;
  });
  let ready = false;
  for (let i = 0; i < 300 && !ready && serve.exitCode === null; i++) {
    ready = await client.call('identity', 'Probe', {}, 2000).then((r) => r.ready?.value === true, () => false);
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
  t.true(ready, `serve never became ready: ${serve.exitCode} ${(await Promise.race([serve, new Promise((r) => setTimeout(r, 100))]) as { all?: string })?.all ?? ''}`);
  t.is((await client.call('identity', 'GetPluginInfo', {})).vendor_version, JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')).version);
  await new Promise((r) => setTimeout(r, 3000));
  const idle = await rssMiB(serve.pid!);
  t.log(`binary: ${size.toFixed(1)} MB, idle RSS ${idle.toFixed(1)} MiB`);
  await report(`binary idle RSS ${idle.toFixed(1)} MiB`);

  await mkdir(join(root, 'srv'), { recursive: true });
  const target = '/srv/vol-1';
  await client.call('node', 'NodePublishVolume', { volume_id: 'bin-vol', target_path: target, volume_capability: mountCapability(), readonly: true, volume_context: { paths: fixture.root } });
  const data = fixture.closure.find((p) => p.includes('fixture-data'))!.slice('/nix/store/'.length);
  const inVolume = join(root, target, 'store', data, 'share/greeting');
  t.is(await readFile(inVolume, 'utf8'), 'greetings from the data path -binary\n');
  t.is((await stat(inVolume)).ino, (await stat(join(root, 'nix/store', data, 'share/greeting'))).ino);
  t.is((await mountHelperPids(serve.pid!)).length, 1, 'the volume was bound by the mount helper (perl-base is in Debian 12)');
  await client.call('node', 'NodeUnpublishVolume', { volume_id: 'bin-vol', target_path: target });
  t.deepEqual(await mountsBelow(join(root, 'srv')), []);

  serve.kill('SIGTERM');
  const result = await serve;
  t.is(result.exitCode, 0, result.all);
});
