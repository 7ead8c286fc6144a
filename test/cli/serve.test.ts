import test from 'ava';
import { execa } from 'execa';
import { access, lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { mountCapability } from '../helpers/csi-client.js';
import { mountsBelow } from '../helpers/mounts.js';
import { buildFixture } from '../helpers/nix.js';
import { startServeProcess } from '../helpers/serve-process.js';
import { tempDir } from '../helpers/temp.js';

test('serve replaces a stale socket, serves, and exits 0 on SIGTERM removing its socket', async (t) => {
  const fixture = await buildFixture();
  const dir = await tempDir(t);
  const socket = join(dir, 'csi.sock');
  // A socket left behind by a killed process: bind() would fail with EADDRINUSE.
  await execa('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(socket)})`]);
  t.true((await lstat(socket)).isSocket());

  const { child, client } = await startServeProcess(
    ['--endpoint', `unix://${socket}`, '--state-dir', join(dir, 'state'), '--node-id', 'serve-test', '--substituters', '', '--view-idle', '0'],
    socket,
  );
  t.teardown(() => {
    client.close();
    child.kill('SIGKILL');
  });
  t.is((await client.call('node', 'NodeGetInfo')).node_id, 'serve-test');
  await mkdir(join(dir, 'pod'));
  const target = join(dir, 'pod/mount');
  await client.call('node', 'NodePublishVolume', { volume_id: 'v', target_path: target, volume_capability: mountCapability(), readonly: true, volume_context: { paths: fixture.root } });
  await client.call('node', 'NodeUnpublishVolume', { volume_id: 'v', target_path: target });
  t.deepEqual(await mountsBelow(dir), []);

  child.kill('SIGTERM');
  const result = await child;
  t.is(result.exitCode, 0, String(result.stderr));
  t.false(await access(socket).then(() => true, () => false));
});
