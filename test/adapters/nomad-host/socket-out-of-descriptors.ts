// Run as a child by host-volume-socket.test.ts: serve's host volume listener, told by libuv
// that an accept failed for want of descriptors. libuv usually hides an accept's EMFILE
// (it closes a reserve descriptor and drains the backlog), but once another thread took
// the freed descriptor first (the thread pool's opens, a spawn's pipes), every failed accept
// reaches the server as an 'error' event, from the event loop: unheard, it ends the process.
// That moment cannot be timed from outside, so this calls the server handle's connection
// callback with the error, exactly as libuv then does. stdout: "listening", then one line
// per "fail" read on stdin: how many failed accepts the listener has logged.
import { constants } from 'node:os';
import { Server } from 'node:net';
import { createInterface } from 'node:readline';
import { listenHostVolumeSocket } from '../../../src/adapters/nomad-host/host-volume-socket.js';
import { RecordingLogger } from '../../helpers/recording-logger.js';

const servers: Server[] = [];
const listen = Server.prototype.listen;
Server.prototype.listen = function (this: Server, ...args: unknown[]) {
  servers.push(this);
  return (listen as (...a: unknown[]) => Server).apply(this, args);
} as typeof Server.prototype.listen;

const log = new RecordingLogger();
await listenHostVolumeSocket(process.argv[2]!, async () => ({ ok: true, path: '/v/a', bytes: 0 }), log);
process.stdout.write('listening\n');

type Handle = { onconnection: (status: number, client?: unknown) => void };
createInterface({ input: process.stdin }).on('line', () => {
  const handle = (servers[0] as unknown as { _handle: Handle })._handle;
  setImmediate(() => {
    handle.onconnection(-constants.errno.EMFILE);
    process.stdout.write(`${log.count('host volume socket: accepting a connection failed')}\n`);
  });
});
