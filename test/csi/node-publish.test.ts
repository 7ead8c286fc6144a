import test from 'ava';
import { lstat, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { mountCapability } from '../helpers/csi-client.js';
import { mountOptionsAt, mountsBelow } from '../helpers/mounts.js';
import { buildFixture } from '../helpers/nix.js';
import { startTestPlugin } from '../helpers/plugin.js';

function publishRequest(volumeId: string, target: string, paths: string, extra: Record<string, unknown> = {}) {
  return { volume_id: volumeId, target_path: target, volume_capability: mountCapability(), readonly: true, volume_context: { paths }, ...extra };
}

test('read-only publish: files readable, inodes shared with the node store, writes refused', async (t) => {
  const fixture = await buildFixture();
  const node = await startTestPlugin(t);
  const target = join(node.dir, 'pods/a/mount');
  await mkdir(join(node.dir, 'pods/a'), { recursive: true });
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-a', target, fixture.root));

  t.deepEqual(await mountsBelow(target), [target]);
  const options = await mountOptionsAt(target);
  t.truthy(options?.includes('ro') && options.includes('nosuid') && options.includes('nodev'));
  const data = fixture.closure.find((p) => p.includes('fixture-data'))!;
  const inView = join(target, 'store', data.slice('/nix/store/'.length), 'share/greeting');
  t.is(await readFile(inView, 'utf8'), 'greetings from the data path \n');
  t.is((await stat(inView)).ino, (await stat(join(data, 'share/greeting'))).ino);
  t.is(await readFile(join(target, 'var/result'), 'utf8').catch(() => 'dir'), 'dir'); // result is a symlink to a dir
  t.is((await lstat(join(target, 'var/result'))).isSymbolicLink(), true);
  const error = await writeFile(join(target, 'store/new-file'), 'x').catch((e: NodeJS.ErrnoException) => e);
  t.is((error as NodeJS.ErrnoException).code, 'EROFS');
  t.deepEqual((await readdir(join(target, 'store'))).filter((n) => !n.startsWith('.')).sort(), fixture.closure.map((p) => p.slice(11)).sort());
});

test('missing required fields are INVALID_ARGUMENT', async (t) => {
  const node = await startTestPlugin(t);
  const target = join(node.dir, 't');
  t.is((await node.client.code('node', 'NodePublishVolume', { target_path: target, volume_capability: mountCapability() })).code, status.INVALID_ARGUMENT);
  t.is((await node.client.code('node', 'NodePublishVolume', { volume_id: 'v', volume_capability: mountCapability() })).code, status.INVALID_ARGUMENT);
  t.is((await node.client.code('node', 'NodePublishVolume', { volume_id: 'v', target_path: target })).code, status.INVALID_ARGUMENT);
});
