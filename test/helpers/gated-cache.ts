import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { nixEnv } from './nix.js';
import { tempDir } from './temp.js';

export interface GatedCache {
  url: string;
  publicKey: string;
  /** Resolves when the first held request (a .narinfo lookup) has arrived. */
  held: Promise<void>;
  /** Answers every held request and stops holding new ones. */
  open(): void;
}

/**
 * A signed binary cache of `paths` served on loopback whose .narinfo answers are
 * held until `open()`: a publish that has to substitute from it hangs for as long
 * as the test wants, which makes "kubelet's call timed out" deterministic.
 */
export async function startGatedCache(t: ExecutionContext, paths: string[]): Promise<GatedCache> {
  const dir = await tempDir(t, 'nixmount-cache-');
  const cache = join(dir, 'cache');
  await execa('nix-store', ['--generate-binary-cache-key', 'nixmount-test-1', join(dir, 'sk'), join(dir, 'pk')], { env: nixEnv });
  // Signed inside the cache only (secret-key), so the host store's database is left alone.
  await execa('nix', ['copy', '--to', `file://${cache}?secret-key=${join(dir, 'sk')}`, ...paths], { env: nixEnv });

  let gateOpen = false;
  const waiting: Array<() => void> = [];
  let seen!: () => void;
  const held = new Promise<void>((resolve) => (seen = resolve));

  const serve = async (request: IncomingMessage, response: ServerResponse) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
    const file = join(cache, path);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-length': info.size });
    if (request.method === 'HEAD') response.end();
    else createReadStream(file).pipe(response);
  };
  const server = createServer((request, response) => {
    const hold = !gateOpen && (request.url ?? '').endsWith('.narinfo');
    if (!hold) {
      void serve(request, response);
      return;
    }
    seen();
    waiting.push(() => void serve(request, response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const open = () => {
    gateOpen = true;
    for (const release of waiting.splice(0)) release();
  };
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        open();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    publicKey: (await readFile(join(dir, 'pk'), 'utf8')).trim(),
    held,
    open,
  };
}
