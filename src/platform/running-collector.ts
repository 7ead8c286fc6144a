import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { UnavailableError } from '../core/errors.js';

// Nix answers each root at once, or after it finished deleting that very path.
const ANSWER_TIMEOUT_MS = 30_000;
// Nix 2.8 serves each connection on a thread it registers only after starting it; a client
// that hangs up within microseconds can leave that thread unregistered, and the collector
// aborts at its end. Held open a moment longer, a connection is always registered first.
const LINGER_MS = 1_000;

/** Where Nix's collector, while one runs, takes roots made after it read the others. */
export function collectorSocketPath(storeRoot: string): string {
  return join(storeRoot, 'nix/var/nix/gc-socket/socket');
}

/**
 * Nix's garbage collector reads the GC roots once, when it starts: a root symlink made
 * later does not keep a collection already under way from deleting its closure. While
 * it runs, the collector listens on a socket for such roots (Nix's own clients send
 * their temporary roots there): one store path per line, each answered with `1`, kept
 * alive with its closure for the rest of that collection.
 *
 * What it guarantees needs `protect` after the permanent roots exist: a collection that
 * has not opened its socket yet reads the roots after it does, so nothing listening means
 * nothing to tell. Called earlier (before a closure is read), it only narrows the window
 * in which a collection under way can take the closure from a publish.
 */
export class RunningCollector {
  constructor(private readonly socketPath: string) {}

  async protect(paths: readonly string[]): Promise<void> {
    if (paths.length === 0) return;
    const socket = await this.connect();
    if (!socket) return;
    try {
      await exchange(socket, paths);
    } finally {
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    }
  }

  /** A connection to the collector under way, or nothing when none runs. */
  private connect(): Promise<Socket | undefined> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(this.socketPath);
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        socket.destroy();
        // No socket, or one a finished collection left behind.
        if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') resolve(undefined);
        else reject(new UnavailableError(`could not reach Nix's running garbage collector at ${this.socketPath}: ${error.message}`, { cause: error }));
      });
    });
  }
}

/**
 * Sends the paths and waits for one answer each. A collection that ends meanwhile closes
 * the connection: whatever it did not see it can no longer delete, and any later one
 * reads the permanent roots.
 */
function exchange(socket: Socket, paths: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let answered = 0;
    const timer = setTimeout(() => {
      done(new UnavailableError(`Nix's running garbage collector did not take ${paths.length} GC root(s) within ${ANSWER_TIMEOUT_MS / 1000} s`));
    }, ANSWER_TIMEOUT_MS);
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.removeAllListeners('data').removeAllListeners('close').removeAllListeners('error');
      socket.on('error', () => undefined);
      if (error) reject(error);
      else resolve();
    };
    socket.on('data', (chunk: Buffer) => {
      answered += chunk.length;
      if (answered >= paths.length) done();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => done());
    socket.write(paths.map((path) => `${path}\n`).join(''));
  });
}
