import { chmod, lstat, mkdir, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { ErrorKind } from '../../core/errors.js';
import type { Logger } from '../../core/ports/logger.js';

/**
 * The private line between the host volume plugin and a running `nixmount serve` that
 * owns the same state dir: one connection per operation, one JSON line each way. The
 * socket lives in a directory of the state dir that only root may enter (0700), so the
 * kernel's permission check is the authentication; nothing else listens on it.
 */

/** Where serve listens, and the plugin looks: inside the state dir, so "same state dir" means "same serve". */
export function hostVolumeSocketPath(stateDir: string): string {
  return join(stateDir, 'host-volume', 'plugin.sock');
}

/** The plugin's question: the DHV_* variables as Nomad gave them, so serve validates them with the same parser. */
export interface DelegatedRequest {
  operation: 'create' | 'delete';
  env: Record<string, string>;
  /**
   * Epoch ms after which serve begins nothing for this request (it may have waited in
   * serve's queue, or serve was stopped), and by which it answers; a create it finishes
   * later is undone (see host-volume-deadlines). The plugin stops waiting soon after.
   */
  startBy: number;
  answerBy: number;
  /** The store the plugin's node config names: serve refuses to act for a config that disagrees with it. */
  store: string;
}

export type DelegatedAnswer = { ok: true; path?: string; bytes?: number } | { ok: false; kind: ErrorKind | 'Internal'; message: string };

/** A request line is a few DHV_* variables; the volume context's own limit is 64 KiB. */
const MAX_LINE_BYTES = 1024 * 1024;

/**
 * The plugin writes its request as soon as it connects: a connection still without a
 * whole line after this long is not the plugin (a person's `nc -U`, a wedged client),
 * and must not hold a slot, nor serve's stop, for ever.
 */
const READ_TIMEOUT_MS = 10_000;

// How long an answered connection waits for the peer to close before it is cut.
const ANSWERED_LINGER_MS = 1_000;

export interface HostVolumeListener {
  /**
   * Stops accepting, waits up to `graceMs` for operations under way, then cuts every
   * connection still open, and removes the socket. A connection that has not sent its
   * request yet is cut at once: no operation of its has started.
   */
  close(graceMs?: number): Promise<void>;
}

export interface ListenOptions {
  /** How long a connection may take to send its request line (READ_TIMEOUT_MS unless given). */
  readTimeoutMs?: number;
}

/** Serve's side: answers each connection's one request with `handle` (which never throws). */
export async function listenHostVolumeSocket(
  socketPath: string,
  handle: (request: unknown) => Promise<DelegatedAnswer>,
  log: Logger,
  options: ListenOptions = {},
): Promise<HostVolumeListener> {
  const readTimeoutMs = options.readTimeoutMs ?? READ_TIMEOUT_MS;
  const dir = dirname(socketPath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  if (!info.isDirectory()) throw new Error(`${dir} is not a directory; nixmount keeps its host volume socket there`);
  // Made by an older run or by hand with other permissions: only root may connect.
  await chmod(dir, 0o700);
  // A socket file left by a killed serve refuses connections; this process owns the state dir now.
  await rm(socketPath, { force: true });
  const running = new Set<Promise<void>>();
  // Every open connection, and whether its request is being worked on (true) or still being read.
  const open = new Map<Socket, { working: boolean }>();
  let closing = false;
  const server = createServer((socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    const state = { working: false };
    open.set(socket, state);
    socket.once('close', () => open.delete(socket));
    const work = serveOne(socket, handle, log, readTimeoutMs, () => (state.working = true));
    running.add(work);
    void work.finally(() => running.delete(work));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Once listening, the server's errors are failed accepts (EMFILE, ENFILE when serve is out of
  // descriptors): heard, each costs the one connection it could not take; unheard, it ends serve.
  server.on('error', (error) => log.warn({ err: error }, 'host volume socket: accepting a connection failed'));
  await chmod(socketPath, 0o600);
  log.info({ socket: socketPath }, 'answering the Nomad host volume plugin');
  return {
    async close(graceMs = 10_000) {
      closing = true;
      // server.close only stops accepting; its callback waits for every connection to end, so it is not awaited here.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const [socket, state] of open) if (!state.working) socket.destroy();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([Promise.allSettled([...running]), grace]);
      clearTimeout(timer);
      if (open.size > 0) log.warn({ graceMs, connections: open.size }, 'host volume operations still running after the grace period; cutting their connections');
      // The plugin sees "lost" and does the work itself once this process has released the state dir.
      for (const socket of open.keys()) socket.destroy();
      await closed;
      // Best effort: a socket file left (a read-only state dir) refuses connections, which the
      // plugin reads as "no serve", and the next serve replaces it.
      await rm(socketPath, { force: true }).catch(() => undefined);
    },
  };
}

async function serveOne(
  socket: Socket,
  handle: (request: unknown) => Promise<DelegatedAnswer>,
  log: Logger,
  readTimeoutMs: number,
  started: () => void,
): Promise<void> {
  socket.on('error', (error) => log.debug({ err: error }, 'host volume plugin connection failed'));
  const line = await readLine(socket, readTimeoutMs).catch((error: unknown) => error as Error);
  if (line === undefined) return;
  let answer: DelegatedAnswer | undefined;
  let request: unknown;
  if (line instanceof Error) {
    answer = { ok: false, kind: 'InvalidArgument', message: line.message };
  } else {
    try {
      request = JSON.parse(line);
    } catch (error) {
      answer = { ok: false, kind: 'InvalidArgument', message: `the request is not JSON: ${(error as Error).message}` };
    }
  }
  if (!answer) {
    started();
    answer = await handle(request);
  }
  // The plugin may be gone (it stopped waiting at its answer-by time): a create finished after the
  // time the request named was undone by the publisher; one finished in time is answered 2 s before the
  // plugin stops waiting (host-volume-deadlines), so it is gone only if the plugin was killed.
  if (socket.destroyed) return;
  socket.end(`${JSON.stringify(answer)}\n`);
  // A peer that never closes its side (a person's `nc -U`) must not keep the connection open.
  setTimeout(() => socket.destroy(), ANSWERED_LINGER_MS).unref();
}

/** The first line on `socket`; undefined when the peer closed before sending one; an error when it is too long or too slow. */
function readLine(socket: Socket, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end >= 0) done(text.slice(0, end));
      else if (Buffer.byteLength(text) > MAX_LINE_BYTES) done(undefined, new Error(`the request is longer than ${MAX_LINE_BYTES} bytes`));
    };
    const onGone = () => done(undefined);
    const timer = setTimeout(() => done(undefined, new Error(`no request line within ${Math.ceil(timeoutMs / 1000)} s`)), timeoutMs);
    // Only this function's own listeners go: the listener's bookkeeping of open connections stays.
    function done(value: string | undefined, error?: Error) {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onGone);
      socket.off('close', onGone);
      if (error) reject(error);
      else resolve(value);
    }
    socket.setEncoding('utf8');
    socket.on('data', onData);
    socket.on('end', onGone);
    socket.on('close', onGone);
  });
}

export type Delegation =
  | { kind: 'answered'; answer: DelegatedAnswer }
  /** Nobody listens: no serve on this state dir (or one starting, or stopping). */
  | { kind: 'no-server' }
  /** Serve took the request and went away without answering (it died or stopped). */
  | { kind: 'lost' };

/** The plugin's side: one request, its answer, within `timeoutMs`. */
export function askHostVolumeSocket(socketPath: string, request: DelegatedRequest, timeoutMs: number): Promise<Delegation> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let connected = false;
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the nixmount serve at ${socketPath} did not answer within ${Math.ceil(timeoutMs / 1000)} s`));
    }, Math.max(0, timeoutMs));
    const settle = (outcome: Delegation) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      connected = true;
      socket.write(`${JSON.stringify(request)}\n`);
    });
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end < 0) return;
      try {
        settle({ kind: 'answered', answer: JSON.parse(text.slice(0, end)) as DelegatedAnswer });
      } catch {
        settle({ kind: 'answered', answer: { ok: false, kind: 'Internal', message: `nixmount serve answered something that is not JSON: ${text.slice(0, 200)}` } });
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected && (error.code === 'ENOENT' || error.code === 'ECONNREFUSED')) {
        settle({ kind: 'no-server' });
        return;
      }
      if (connected) {
        settle({ kind: 'lost' });
        return;
      }
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(`cannot reach the nixmount serve at ${socketPath}: ${error.message}`));
    });
    socket.on('close', () => settle(connected ? { kind: 'lost' } : { kind: 'no-server' }));
  });
}
