import test from 'ava';
import { status, type ServerUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { FailedPreconditionError, InvalidArgumentError } from '../../src/core/errors.js';
import { LIMITS } from '../../src/core/limits.js';
import { NodeEventHub } from '../../src/core/node-event-hub.js';
import type { NodeEvent } from '../../src/core/ports/node-events.js';
import { RpcHandlerFactory } from '../../src/csi/rpc-handler.js';
import { RecordingLogger } from '../helpers/recording-logger.js';

// The choke point every RPC passes through, called as grpc-js calls a handler.

type Answer = { error: Partial<ServiceError> | null; response?: unknown };

function invoke<Req>(handler: (call: ServerUnaryCall<Req, unknown>, callback: (e: Partial<ServiceError> | null, r?: unknown) => void) => void, request: Req): Promise<Answer> {
  return new Promise((resolve) => handler({ request } as ServerUnaryCall<Req, unknown>, (error, response) => resolve({ error, response })));
}

test('validation runs first: a bad request is INVALID_ARGUMENT even while the key is busy, and never takes the lock', async (t) => {
  const rpc = new RpcHandlerFactory(new RecordingLogger());
  let release!: () => void;
  const handler = rpc.unary<{ path: string; ok: boolean }, object, string>({
    method: 'NodePublishVolume',
    validate: (r) => {
      if (!r.ok) throw new InvalidArgumentError('target_path is required');
      return r.path;
    },
    lockKey: (_r, path) => path,
    handle: () => new Promise((resolve) => (release = () => resolve({}))),
  });
  const first = invoke(handler, { path: '/t', ok: true });
  t.is((await invoke(handler, { path: '/t', ok: false })).error?.code, status.INVALID_ARGUMENT);
  const busy = await invoke(handler, { path: '/t', ok: true });
  t.is(busy.error?.code, status.ABORTED);
  t.regex(busy.error?.details ?? '', /NodePublishVolume.*in progress/);
  release();
  t.is((await first).error, null);
  release = () => undefined;
});

test('domain errors keep their code and message; anything else is INTERNAL with one short line, logged as an error', async (t) => {
  const log = new RecordingLogger();
  const rpc = new RpcHandlerFactory(log);
  const failing = (error: unknown) => rpc.unary({ method: 'M', handle: async () => Promise.reject(error) });
  const domain = await invoke(failing(new FailedPreconditionError('a parent of /t is not a directory')), {});
  t.deepEqual(domain.error, { code: status.FAILED_PRECONDITION, details: 'a parent of /t is not a directory' });
  const bug = await invoke(failing(new TypeError('x is undefined\n    at somewhere')), {});
  t.deepEqual(bug.error, { code: status.INTERNAL, details: 'internal error: x is undefined' });
  t.is(log.records.filter((r) => r.level === 'error').length, 1);
});

test('no status message leaves longer than the limit', async (t) => {
  const rpc = new RpcHandlerFactory(new RecordingLogger());
  const handler = rpc.unary({ method: 'M', handle: async () => Promise.reject(new FailedPreconditionError(`x${'é'.repeat(100_000)}`)) });
  const { error } = await invoke(handler, {});
  t.is(error?.code, status.FAILED_PRECONDITION);
  t.true(Buffer.byteLength(error?.details ?? '') <= LIMITS.statusMessageBytes);
});

test('unimplemented methods answer UNIMPLEMENTED naming the method', async (t) => {
  const { error } = await invoke(new RpcHandlerFactory(new RecordingLogger()).unimplemented('NodeExpandVolume'), {});
  t.deepEqual(error, { code: status.UNIMPLEMENTED, details: 'NodeExpandVolume is not offered by this plugin' });
});

test('every answered call, validation failures included, is told to NodeEvents once with its method and code name, after the answer', async (t) => {
  const hub = new NodeEventHub(new RecordingLogger());
  const heard: NodeEvent[] = [];
  hub.subscribe((event) => heard.push(event));
  const rpc = new RpcHandlerFactory(new RecordingLogger(), hub);
  const handler = rpc.unary<{ ok: boolean }, object>({
    method: 'NodeGetVolumeStats',
    validate: (r) => {
      if (!r.ok) throw new InvalidArgumentError('volume_id is required');
    },
    handle: async () => ({}),
  });
  // How many events listeners had heard when each answer left.
  const heardAtAnswer: number[] = [];
  const call = (request: { ok: boolean }) =>
    new Promise<void>((resolve) =>
      handler({ request } as ServerUnaryCall<{ ok: boolean }, object>, () => {
        heardAtAnswer.push(heard.length);
        resolve();
      }),
    );
  await call({ ok: true });
  await call({ ok: false });
  await invoke(rpc.unimplemented('NodeExpandVolume'), {});
  t.deepEqual(heardAtAnswer, [0, 1], 'the answer leaves before listeners hear of it');
  t.deepEqual(heard.map((event) => event.kind === 'rpc' && [event.method, event.code]), [
    ['NodeGetVolumeStats', 'OK'],
    ['NodeGetVolumeStats', 'INVALID_ARGUMENT'],
    ['NodeExpandVolume', 'UNIMPLEMENTED'],
  ]);
  for (const event of heard) t.true(event.kind === 'rpc' && event.seconds >= 0 && event.seconds < 5);
});
