import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { execa, type ResultPromise } from 'execa';
import { closedPort } from './binary-cache.js';
import { tempDir } from './temp.js';

export const NGINX = '/usr/sbin/nginx';

/**
 * A real nginx on 127.0.0.1 serving a WebDAV binary cache: GET for substituters, PUT
 * (with create_full_put_path) for `nix copy --to http://…`. This is the configuration
 * docs/caches.md tells operators to run, on loopback.
 */
export interface NginxCache {
  url: string;
  /** The files nginx serves and stores PUTs in. */
  root: string;
  /** Fast shutdown (SIGTERM): connections in flight are cut, as a crash or eviction would. */
  stop(): Promise<void>;
  /** Starts nginx again on the same port and directory. */
  start(): Promise<void>;
  /** Request lines ("PUT /nar/…") nginx logged so far. */
  requests(): Promise<string[]>;
  /** Total bytes of the files under `root`. */
  bytes(): Promise<number>;
}

function config(dir: string, root: string, port: number): string {
  return `daemon off;
master_process on;
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / {
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
`;
}

async function waitForPort(url: string, child: ResultPromise, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let exited = false;
  child.catch(() => undefined).finally(() => { exited = true; });
  while (Date.now() < until) {
    if (exited) throw new Error('nginx exited at start');
    const answer = await fetch(`${url}/`, { method: 'HEAD' }).catch(() => undefined);
    if (answer) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nginx did not answer on ${url}`);
}

async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? await sizeOf(path) : (await stat(path)).size;
  }
  return total;
}

/**
 * Another configuration than the helper's own (the one the Kubernetes manifests render):
 * its text for nginx's directory `dir` and `port`, and the root it serves. It must log
 * requests to `dir`/access.log for `requests()`.
 */
export type NginxConfiguration = (dir: string, port: number) => { text: string; root: string };

/** Starts nginx (Debian's package) as a WebDAV binary cache until the test ends. */
export async function startNginxCache(t: ExecutionContext, configure?: NginxConfiguration): Promise<NginxCache> {
  const dir = await tempDir(t, 'nixmount-nginx-');
  const port = await closedPort();
  const { text, root } = configure ? configure(dir, port) : { text: config(dir, join(dir, 'cache'), port), root: join(dir, 'cache') };
  await mkdir(root, { recursive: true });
  const url = `http://127.0.0.1:${port}`;
  const conf = join(dir, 'nginx.conf');
  await writeFile(conf, text);
  let child: ResultPromise | undefined;
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running) return;
    running.kill('SIGTERM');
    await running.catch(() => undefined);
  };
  const start = async () => {
    if (child) return;
    child = execa(NGINX, ['-p', dir, '-c', conf], { reject: false, stdio: 'ignore' });
    await waitForPort(url, child);
  };
  t.teardown(stop);
  await start();
  return {
    url,
    root,
    stop,
    start,
    requests: async () => (await readFile(join(dir, 'access.log'), 'utf8').catch(() => ''))
      .split('\n').map((line) => /"([A-Z]+ \S+)/.exec(line)?.[1]).filter((line): line is string => line !== undefined),
    bytes: () => sizeOf(root),
  };
}
