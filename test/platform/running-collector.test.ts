import test from 'ava';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { RunningCollector, collectorSocketPath } from '../../src/platform/running-collector.js';
import { nixEnv } from '../helpers/nix.js';
import { tempDir } from '../helpers/temp.js';

async function storeWithUnrooted(dir: string, count: number): Promise<{ storeUri: string; paths: string[]; root: string }> {
  const root = join(dir, 'root');
  const storeUri = `local?root=${root}`;
  const files: string[] = [];
  await mkdir(join(dir, 'files'));
  for (let i = 0; i < count; i++) {
    files.push(join(dir, 'files', `f${i}`));
    await writeFile(files.at(-1)!, `${i}\n`);
  }
  const { stdout } = await execa('nix-store', ['--store', storeUri, '--add', ...files], { env: nixEnv });
  return { storeUri, root, paths: stdout.trim().split('\n') };
}

test('roots told to a collection under way are kept with it, and the collection ends cleanly', async (t) => {
  const dir = await tempDir(t, 'nixmount-collector-');
  const { storeUri, root, paths } = await storeWithUnrooted(dir, 8000);
  const socket = collectorSocketPath(root);
  const gc = execa('nix-store', ['--store', storeUri, '--gc'], { env: nixEnv, reject: false });
  // As soon as the collection listens (it read the roots already, or is about to), before it deletes much.
  while (!(await access(socket).then(() => true, () => false))) await new Promise((resolve) => setTimeout(resolve, 2));
  const kept = paths.slice(-20);
  await new RunningCollector(socket).protect(kept);
  const result = await gc;
  t.is(result.exitCode, 0, result.stderr);
  const { stdout } = await execa('nix-store', ['--store', storeUri, '--check-validity', '--print-invalid', ...paths], { env: nixEnv });
  const invalid = new Set(stdout.split('\n').filter(Boolean));
  const survivors = paths.filter((path) => !invalid.has(path));
  // Everything else was unrooted and is gone.
  t.deepEqual(survivors, kept);
});

test('with no collection running, protecting is a no-op: no socket, or one a finished collection left', async (t) => {
  const dir = await tempDir(t, 'nixmount-collector-');
  const socket = collectorSocketPath(dir);
  await new RunningCollector(socket).protect(['/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x']);
  await mkdir(dirname(socket), { recursive: true });
  // A listener killed outright leaves its socket file behind, as a finished collection does.
  const listener = execa('node', ['-e', `require('net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`]);
  await new Promise<void>((resolve) => listener.stdout!.once('data', () => resolve()));
  listener.kill('SIGKILL');
  await listener.catch(() => undefined);
  await access(socket);
  await new RunningCollector(socket).protect(['/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x']);
  t.pass();
});

test('each path is sent on its own line and every answer is awaited', async (t) => {
  const dir = await tempDir(t, 'nixmount-collector-');
  const socket = collectorSocketPath(dir);
  await mkdir(dirname(socket), { recursive: true });
  let received = '';
  const server = createServer((connection) => {
    connection.on('data', (chunk) => {
      received += chunk.toString();
      // Answers come one at a time, some later than others.
      for (const _line of chunk.toString().split('\n').slice(0, -1)) setTimeout(() => connection.write('1'), 20);
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.teardown(() => server.close());
  const paths = ['/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x', '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-y'];
  await new RunningCollector(socket).protect(paths);
  t.is(received, `${paths[0]}\n${paths[1]}\n`);
});
