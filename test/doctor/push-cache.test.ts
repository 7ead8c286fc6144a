import test, { type ExecutionContext } from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { publicKeyOf, pushCacheResults } from '../../src/doctor/push-cache.js';
import { closedPort, signingKey, silentServer, type SigningKey } from '../helpers/binary-cache.js';
import { startNginxCache } from '../helpers/nginx-cache.js';
import { tempDir } from '../helpers/temp.js';

// The push cache as doctor sees it: a real nginx WebDAV cache on loopback (the one
// docs/caches.md configures), a real key pair from nix-store, a server that never answers.

const clusterKey = (t: ExecutionContext): Promise<SigningKey> => signingKey(t, 'nixmount-cluster-1');

const signed = (publicKey: string) => ({ check: 'push-cache', status: 'ok', message: `pushes are signed as ${publicKey}`, fix: null });

test('no --push-to: nothing to check', async (t) => {
  t.deepEqual(await pushCacheResults({ timeoutMs: 1000 }), [
    { check: 'push-cache', status: 'ok', message: 'none (--push-to not set): what this node builds stays on it', fix: null },
  ]);
});

test('the public half of a secret key is what nix-store --generate-binary-cache-key wrote beside it', async (t) => {
  const key = await clusterKey(t);
  t.is(publicKeyOf(await readFile(key.secretKeyFile, 'utf8')), key.publicKey);
  t.is(publicKeyOf(key.publicKey), undefined, 'a public key is not a secret one');
  t.is(publicKeyOf('garbage'), undefined);
});

test('a real nginx WebDAV cache: no nix-cache-info before the first push, then it answers, then it is down', async (t) => {
  const key = await clusterKey(t);
  const cache = await startNginxCache(t);
  const settings = { pushTo: cache.url, keyFile: key.secretKeyFile, trustedPublicKeys: [key.publicKey], timeoutMs: 2000 };
  const [keyLine, empty] = await pushCacheResults(settings);
  t.deepEqual(keyLine, signed(key.publicKey));
  t.is(empty!.status, 'info');
  t.regex(empty!.message, new RegExp(`^${cache.url} answers \\(\\d+ ms\\) but has no nix-cache-info yet$`));
  await writeFile(join(cache.root, 'nix-cache-info'), 'StoreDir: /nix/store\n');
  const [, answered] = await pushCacheResults(settings);
  t.is(answered!.status, 'ok');
  t.regex(answered!.message, new RegExp(`^${cache.url} answers nix-cache-info \\(\\d+ ms\\)$`));
  await cache.stop();
  const [, down] = await pushCacheResults(settings);
  t.is(down!.status, 'problem');
  t.is(down!.message, `${cache.url} is unreachable (ECONNREFUSED): what this node realises stays queued and is not shared`);
});

test('a cache that never answers costs the one bounded timeout', async (t) => {
  const key = await clusterKey(t);
  const url = await silentServer(t);
  const started = Date.now();
  const [, result] = await pushCacheResults({ pushTo: url, keyFile: key.secretKeyFile, timeoutMs: 1000 });
  t.true(Date.now() - started < 3000);
  t.is(result!.status, 'problem');
  t.is(result!.message, `${url} is unreachable (no answer within 1s): what this node realises stays queued and is not shared`);
});

test('no key, an unreadable one, a public one, or one the trusted keys do not list is a problem; the cache is checked all the same', async (t) => {
  const key = await clusterKey(t);
  const url = `http://127.0.0.1:${await closedPort()}`;
  const [unsigned, down] = await pushCacheResults({ pushTo: url, timeoutMs: 1000 });
  t.is(unsigned!.status, 'problem');
  t.is(unsigned!.message, `${url} gets unsigned paths (no --push-key-file): nodes refuse them, nixmount requires signatures`);
  t.is(down!.message, `${url} is unreachable (ECONNREFUSED): what this node realises stays queued and is not shared`);

  const [missing] = await pushCacheResults({ pushTo: url, keyFile: '/nonexistent/secret', timeoutMs: 1000 });
  t.is(missing!.message, '--push-key-file /nonexistent/secret is not readable (ENOENT): every push fails');

  const publicFile = join(await tempDir(t), 'public');
  await writeFile(publicFile, `${key.publicKey}\n`);
  const [wrongHalf] = await pushCacheResults({ pushTo: url, keyFile: publicFile, timeoutMs: 1000 });
  t.is(wrongHalf!.message, `--push-key-file ${publicFile} is not a Nix secret key (NAME:BASE64 of 64 bytes): every push fails`);

  const other = await signingKey(t, 'someone-else-1');
  const [untrusted] = await pushCacheResults({ pushTo: url, keyFile: key.secretKeyFile, trustedPublicKeys: [other.publicKey], timeoutMs: 1000 });
  t.is(untrusted!.status, 'problem');
  t.is(untrusted!.message, `${key.secretKeyFile} signs as ${key.publicKey}, which --trusted-public-keys does not list: nodes configured like this one refuse what it pushes`);
});
