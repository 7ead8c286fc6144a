import test from 'ava';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  askHostVolumeSocket,
  hostVolumeSocketPath,
  listenHostVolumeSocket,
  type DelegatedAnswer,
  type DelegatedRequest,
} from '../../../src/adapters/nomad-host/host-volume-socket.js';
import { RecordingLogger } from '../../helpers/recording-logger.js';

const REQUEST: DelegatedRequest = { operation: 'create', env: { DHV_VOLUMES_DIR: '/v', DHV_VOLUME_ID: 'a' }, startBy: Date.now() + 45_000, answerBy: Date.now() + 50_000, store: '' };

async function stateDir(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nixmount-hv-socket-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Sends raw bytes and returns everything the server wrote back before closing. */
function raw(path: string, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let text = '';
    socket.on('connect', () => socket.end(bytes));
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

test('the socket is in the state dir, in a directory only root enters; one request, its answer; the socket goes with close', async (t) => {
  const dir = await stateDir(t);
  const path = hostVolumeSocketPath(dir);
  t.is(path, join(dir, 'host-volume', 'plugin.sock'));
  // An older run left the directory open and a dead socket file behind.
  await mkdir(join(dir, 'host-volume'), { mode: 0o755 });
  await writeFile(path, '');
  const seen: unknown[] = [];
  const listener = await listenHostVolumeSocket(path, async (request) => {
    seen.push(request);
    return { ok: true, path: '/v/a', bytes: 0 };
  }, new RecordingLogger());
  t.is((await stat(join(dir, 'host-volume'))).mode & 0o777, 0o700);
  t.is((await stat(path)).mode & 0o777, 0o600);
  t.deepEqual(await askHostVolumeSocket(path, REQUEST, 5_000), { kind: 'answered', answer: { ok: true, path: '/v/a', bytes: 0 } });
  t.deepEqual(seen, [REQUEST]);
  await listener.close();
  await t.throwsAsync(stat(path), { code: 'ENOENT' });
  t.deepEqual(await askHostVolumeSocket(path, REQUEST, 5_000), { kind: 'no-server' });
});

test('nobody listening (no socket, or a dead one) is "no-server"; a serve that closes without answering is "lost"; one that never answers times out', async (t) => {
  const dir = await stateDir(t);
  t.deepEqual(await askHostVolumeSocket(join(dir, 'absent.sock'), REQUEST, 5_000), { kind: 'no-server' });
  const dead = join(dir, 'dead.sock');
  await writeFile(dead, '');
  t.deepEqual(await askHostVolumeSocket(dead, REQUEST, 5_000), { kind: 'no-server' });

  // A serve killed mid-operation: the connection drops with no answer line.
  const dying = join(dir, 'dying.sock');
  const killed = createServer((socket) => socket.once('data', () => socket.destroy()));
  await new Promise<void>((resolve) => killed.listen(dying, resolve));
  t.teardown(() => killed.close());
  t.deepEqual(await askHostVolumeSocket(dying, REQUEST, 5_000), { kind: 'lost' });

  const silent = join(dir, 'silent.sock');
  const hung = createServer(() => undefined);
  await new Promise<void>((resolve) => hung.listen(silent, resolve));
  t.teardown(() => {
    hung.close();
    return undefined;
  });
  const started = Date.now();
  await t.throwsAsync(askHostVolumeSocket(silent, REQUEST, 300), { message: `the nixmount serve at ${silent} did not answer within 1 s` });
  t.true(Date.now() - started < 3_000);
});

test('what is not one JSON line of at most 1 MiB is answered InvalidArgument without reaching the handler', async (t) => {
  const dir = await stateDir(t);
  const path = hostVolumeSocketPath(dir);
  let calls = 0;
  const listener = await listenHostVolumeSocket(path, async () => {
    calls++;
    return { ok: true };
  }, new RecordingLogger());
  t.teardown(() => listener.close());
  const notJson = JSON.parse(await raw(path, 'create please\n')) as DelegatedAnswer;
  t.like(notJson, { ok: false, kind: 'InvalidArgument' });
  t.regex((notJson as { message: string }).message, /^the request is not JSON: /);
  const long = JSON.parse(await raw(path, Buffer.alloc(1024 * 1024 + 10, 'a'))) as DelegatedAnswer;
  t.deepEqual(long, { ok: false, kind: 'InvalidArgument', message: 'the request is longer than 1048576 bytes' });
  t.is(await raw(path, ''), '', 'a peer that sends nothing gets nothing');
  t.is(calls, 0);
});

test('close stops taking requests at once and waits (bounded) for the operations under way', async (t) => {
  const dir = await stateDir(t);
  const path = hostVolumeSocketPath(dir);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const listener = await listenHostVolumeSocket(path, async () => {
    await gate;
    return { ok: true };
  }, new RecordingLogger());
  const pending = askHostVolumeSocket(path, REQUEST, 5_000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  let closed = false;
  const closing = listener.close(5_000).then(() => (closed = true));
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.false(closed, 'waits for the create under way');
  t.deepEqual(await askHostVolumeSocket(path, REQUEST, 5_000), { kind: 'no-server' }, 'a new request is not taken');
  release();
  t.deepEqual(await pending, { kind: 'answered', answer: { ok: true } });
  await closing;
});

/** A client that connects and sends part of a request, then nothing (`nc -U` with a half-typed line). */
function idleClient(path: string): Promise<{ closedByServer: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let text = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => (text += chunk.toString()));
    const closedByServer = new Promise<string>((done) => socket.on('close', () => done(text)));
    socket.on('connect', () => {
      socket.write('{"operation"');
      resolve({ closedByServer });
    });
    socket.once('error', reject);
  });
}

test('a client that never finishes its request line does not hold close past the grace, and is cut off at the read timeout', async (t) => {
  const dir = await stateDir(t);
  const path = hostVolumeSocketPath(dir);
  let calls = 0;
  const listener = await listenHostVolumeSocket(path, async () => {
    calls++;
    return { ok: true };
  }, new RecordingLogger(), { readTimeoutMs: 300 });
  const timedOut = await idleClient(path);
  const answer = JSON.parse(await timedOut.closedByServer) as DelegatedAnswer;
  t.deepEqual(answer, { ok: false, kind: 'InvalidArgument', message: 'no request line within 1 s' });

  const idle = await idleClient(path);
  const started = Date.now();
  await listener.close(200);
  t.true(Date.now() - started < 1_000, `close took ${Date.now() - started} ms`);
  await idle.closedByServer;
  t.is(calls, 0);
});

test('an operation still running when the grace ends: its connection is cut, close returns', async (t) => {
  const dir = await stateDir(t);
  const path = hostVolumeSocketPath(dir);
  const listener = await listenHostVolumeSocket(path, () => new Promise<DelegatedAnswer>(() => undefined), new RecordingLogger());
  const pending = askHostVolumeSocket(path, REQUEST, 5_000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const started = Date.now();
  await listener.close(300);
  t.true(Date.now() - started < 1_500, `close took ${Date.now() - started} ms`);
  t.deepEqual(await pending, { kind: 'lost' });
});

test('an accept that fails for want of descriptors (EMFILE) is logged, not fatal: the listener lives and answers the next connection', async (t) => {
  const dir = await stateDir(t);
  const path = hostVolumeSocketPath(dir);
  const child = execa(process.execPath, [fileURLToPath(new URL('./socket-out-of-descriptors.js', import.meta.url)), path], { stdin: 'pipe', reject: false });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const lines = createInterface({ input: child.stdout! });
  const nextLine = () => new Promise<string | undefined>((resolve) => {
    lines.once('line', resolve);
    void child.then(() => resolve(undefined));
  });
  t.is(await nextLine(), 'listening');
  for (const count of ['1', '2']) {
    child.stdin!.write('fail\n');
    const answer = await nextLine();
    t.is(answer, count, `the failed accept was heard: ${answer === undefined ? (await child).stderr.slice(-1500) : ''}`);
  }
  t.is(child.exitCode, null, 'the listener\'s process still runs');
  t.deepEqual(await askHostVolumeSocket(path, REQUEST, 5_000), { kind: 'answered', answer: { ok: true, path: '/v/a', bytes: 0 } });
});
