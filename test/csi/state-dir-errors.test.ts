import anyTest from 'ava';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { status } from '@grpc/grpc-js';
import { mountCapability } from '../helpers/csi-client.js';
import { mountsBelow } from '../helpers/mounts.js';
import { buildFixture } from '../helpers/nix.js';
import { startTestPlugin, type TestPlugin } from '../helpers/plugin.js';

// Serial: both tests change what the state dir accepts while a plugin runs.
const test = anyTest.serial;
const SALT = '-edge-state';

function publish(volumeId: string, target: string, paths: string) {
  return { volume_id: volumeId, target_path: target, volume_capability: mountCapability(), readonly: true, volume_context: { paths } };
}

async function publishedOnce(t: import('ava').ExecutionContext): Promise<{ node: TestPlugin; root: string }> {
  const fixture = await buildFixture(SALT);
  const node = await startTestPlugin(t);
  await mkdir(join(node.dir, 'pods'));
  // A first volume makes the state dir's subdirectories and the view.
  await node.client.call('node', 'NodePublishVolume', publish('first', join(node.dir, 'pods', 'first'), fixture.root));
  return { node, root: fixture.root };
}

// Finding 12: EROFS and EPERM on the state dir answered INTERNAL with Node's message.
test('a read-only state dir: publish is UNAVAILABLE naming the path and EROFS, Probe not ready at once', async (t) => {
  const { node, root } = await publishedOnce(t);
  await execa('mount', ['--bind', node.stateDir, node.stateDir]);
  await execa('mount', ['-o', 'remount,bind,ro', node.stateDir]);
  const target = join(node.dir, 'pods', 'second');
  const result = await node.client.code('node', 'NodePublishVolume', publish('second', target, root));
  t.is(result.code, status.UNAVAILABLE, result.details);
  t.regex(result.details, new RegExp(`"${node.stateDir}/[^"]+": the file system is read-only \\(EROFS\\)`));
  t.deepEqual(await node.client.call('identity', 'Probe'), { ready: { value: false } });
  t.deepEqual(await mountsBelow(target), []);
});

test('an immutable records dir (EPERM): publish is UNAVAILABLE naming the path and EPERM', async (t) => {
  const { node, root } = await publishedOnce(t);
  const volumes = join(node.stateDir, 'volumes');
  await execa('chattr', ['+i', volumes]);
  t.teardown(() => execa('chattr', ['-i', volumes], { reject: false }).then(() => undefined));
  const target = join(node.dir, 'pods', 'second');
  const result = await node.client.code('node', 'NodePublishVolume', publish('second', target, root));
  t.is(result.code, status.UNAVAILABLE, result.details);
  t.regex(result.details, /"[^"]+volumes[^"]*": operation not permitted \(EPERM\)/);
  t.deepEqual(await mountsBelow(target), []);
  t.deepEqual((await readdir(volumes)).filter((name) => !name.startsWith('.')).length, 1);
});
