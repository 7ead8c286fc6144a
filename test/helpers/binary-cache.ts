import { createServer, type Server } from 'node:http';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { nixEnv } from './nix.js';
import { tempDir } from './temp.js';

export interface SigningKey {
  name: string;
  secretKeyFile: string;
  publicKey: string;
}

export interface BinaryCache {
  /** Where the cache's files are, as a store URI nix can copy to. */
  fileUri: string;
  dir: string;
  /** http://127.0.0.1:PORT serving `dir`. */
  url: string;
}

/** A fresh binary-cache signing key pair in a temp dir. */
export async function signingKey(t: ExecutionContext, name: string): Promise<SigningKey> {
  const dir = await tempDir(t, 'nixmount-key-');
  const secretKeyFile = join(dir, 'secret');
  const publicFile = join(dir, 'public');
  await execa('nix-store', ['--generate-binary-cache-key', name, secretKeyFile, publicFile], { env: nixEnv });
  return { name, secretKeyFile, publicKey: (await readFile(publicFile, 'utf8')).trim() };
}

/** Serves `dir` read-only on 127.0.0.1 (a free port) until the test ends. */
export async function serveDirectory(t: ExecutionContext, dir: string): Promise<string> {
  const server: Server = createServer((request, response) => {
    const path = normalize(decodeURIComponent((request.url ?? '/').split('?')[0]!));
    const file = join(dir, path);
    stat(file).then(
      (info) => {
        if (!info.isFile()) throw new Error('not a file');
        response.writeHead(200, { 'content-length': info.size });
        if (request.method === 'HEAD') response.end();
        else createReadStream(file).pipe(response);
      },
      () => {
        response.writeHead(404).end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An empty binary cache directory served over HTTP on loopback. */
export async function startBinaryCache(t: ExecutionContext): Promise<BinaryCache> {
  const dir = await tempDir(t, 'nixmount-cache-');
  await writeFile(join(dir, 'nix-cache-info'), 'StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 30\n');
  return { dir, fileUri: `file://${dir}`, url: await serveDirectory(t, dir) };
}

/** Copies `paths` (with their closures) into `cache`, signed with `key`. */
export async function pushSigned(cache: BinaryCache, key: SigningKey, paths: string[]): Promise<void> {
  await execa('nix', ['copy', '--to', `${cache.fileUri}?secret-key=${key.secretKeyFile}`, ...paths], { env: nixEnv });
}

/** A loopback "cache" that accepts connections and never answers (a hung server, not a refused port). */
export async function silentServer(t: ExecutionContext): Promise<string> {
  const sockets = new Set<import('node:net').Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A loopback port nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
