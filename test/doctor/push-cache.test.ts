import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pushCacheResult } from '../../src/doctor/push-cache.js';
import { closedPort, silentServer } from '../helpers/binary-cache.js';
import { startNginxCache } from '../helpers/nginx-cache.js';
import { tempDir } from '../helpers/temp.js';

async function keyFile(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const file = join(await tempDir(t), 'secret');
  await writeFile(file, 'nixmount-cluster-1:secret');
  return file;
}

test('no --push-to: nothing to check', async (t) => {
  t.deepEqual(await pushCacheResult({ timeoutMs: 1000 }), {
    check: 'push-cache', status: 'ok', message: 'none (--push-to not set): what this node builds stays on it', fix: null,
  });
});

test('a real nginx WebDAV cache: no nix-cache-info before the first push, then it answers', async (t) => {
  const cache = await startNginxCache(t);
  const key = await keyFile(t);
  const empty = await pushCacheResult({ pushTo: cache.url, keyFile: key, timeoutMs: 2000 });
  t.is(empty.status, 'info');
  t.regex(empty.message, /has no nix-cache-info yet/);
  await writeFile(join(cache.root, 'nix-cache-info'), 'StoreDir: /nix/store\n');
  const answered = await pushCacheResult({ pushTo: cache.url, keyFile: key, timeoutMs: 2000 });
  t.is(answered.status, 'ok');
  t.regex(answered.message, new RegExp(`^${cache.url} answers nix-cache-info \\(\\d+ ms\\)$`));
  await cache.stop();
  const down = await pushCacheResult({ pushTo: cache.url, keyFile: key, timeoutMs: 2000 });
  t.is(down.status, 'problem');
  t.is(down.message, `${cache.url} is unreachable (ECONNREFUSED): what this node builds is queued and not shared`);
});

test('a cache that never answers costs the one bounded timeout', async (t) => {
  const url = await silentServer(t);
  const started = Date.now();
  const result = await pushCacheResult({ pushTo: url, keyFile: await keyFile(t), timeoutMs: 1000 });
  t.true(Date.now() - started < 3000);
  t.is(result.status, 'problem');
  t.is(result.message, `${url} is unreachable (no answer within 1s): what this node builds is queued and not shared`);
});

test('pushing without a key, or with one that cannot be read, is a problem', async (t) => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const unsigned = await pushCacheResult({ pushTo: url, timeoutMs: 1000 });
  t.is(unsigned.status, 'problem');
  t.regex(unsigned.message, /gets unsigned paths \(no --push-key-file\)/);
  const missing = await pushCacheResult({ pushTo: url, keyFile: '/nonexistent/secret', timeoutMs: 1000 });
  t.is(missing.message, '--push-key-file /nonexistent/secret is not readable (ENOENT): every push fails');
});
