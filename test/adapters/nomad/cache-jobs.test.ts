import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nginxConfig, nixCacheInfo, UPSTREAM_CACHE, UPSTREAM_KEY } from '../../../src/adapters/kubernetes/manifests/cache.js';
import { blocks, labelledBlocks, parseHcl, type HclBody } from '../../../src/adapters/nomad/tooling/hcl.js';
import { ADAPTER_OPTIONS } from '../../../src/adapters/registry.js';
import { optionsOf, parseCommandLine } from '../../../src/settings/command-line.js';
import { PLUGIN_OPTIONS } from '../../../src/settings/plugin-options.js';
import { parseEnviron } from '../../../src/doctor/serve-process.js';
import { JOBS_DIR } from './shipped-jobs.js';

// jobs/nixmount-cache.nomad.hcl (the cluster cache) and jobs/nixmount-cached.nomad.hcl
// (the node plugin wired to it), parsed with hcl2-parser: the cache serves the same
// nginx.conf as the Kubernetes manifests, and the node job's templates, rendered for a
// cache at a known address, give serve exactly the wiring of docs/caches.md.

type Body = Record<string, any>;

async function jobOf(file: string): Promise<{ name: string; job: Body }> {
  const [[name, job]] = labelledBlocks(parseHcl(await readFile(join(JOBS_DIR, file), 'utf8'), file), 'job') as [[string, Body]];
  return { name, job };
}
const only = (body: HclBody, type: string): Body => {
  const found = labelledBlocks(body, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]![1] as Body;
};
const taskOf = (group: HclBody, name: string): Body => labelledBlocks(group, 'task').find(([label]) => label === name)![1] as Body;
const templateAt = (task: HclBody, destination: string): Body => blocks(task, 'template').find((t) => t.destination === destination) as Body;

test('the cache job: nginx with the manifests\' nginx.conf on a host volume, found by its service, ready before the first push', async (t) => {
  const { name, job } = await jobOf('nixmount-cache.nomad.hcl');
  t.is(name, 'nixmount-cache');
  t.is(job.type, 'service');
  const group = only(job, 'group');
  t.is(group.count, 1);
  const [[volumeName, volume]] = labelledBlocks(group, 'volume') as [[string, Body]];
  t.like(volume, { type: 'host', source: 'nixmount-cache', read_only: false });
  const prepare = taskOf(group, 'prepare');
  const nginx = taskOf(group, 'nginx');
  for (const task of [prepare, nginx]) t.deepEqual(blocks(task, 'volume_mount'), [{ volume: volumeName, destination: '/var/cache/nixmount' }]);
  t.like(blocks(prepare, 'lifecycle')[0], { hook: 'prestart', sidecar: false });

  // The same nginx.conf and nix-cache-info as manifests/cache/configmap.yaml (run by a real nginx in cache-manifests.test.ts).
  t.is(templateAt(nginx, 'local/nginx.conf').data, nginxConfig());
  t.is(templateAt(prepare, 'local/nix-cache-info').data, nixCacheInfo());
  const config = blocks(nginx, 'config')[0]!;
  t.is(config.command, 'nginx');
  t.deepEqual(config.args, ['-c', '/local/nginx.conf', '-g', 'daemon off;']);
  t.deepEqual(config.ports, ['http']);
  t.true((blocks(prepare, 'config')[0]!.args as string[])[1]!.includes('cp /local/nix-cache-info /var/cache/nixmount/store/'));

  const port = labelledBlocks(blocks(group, 'network')[0]!, 'port').find(([label]) => label === 'http')![1];
  t.is(port.to, 8080, 'the port nginx.conf listens on');
  const service = blocks(group, 'service')[0]!;
  t.like(service, { name: 'nixmount-cache', port: 'http', provider: 'nomad' });
  t.like(blocks(service, 'check')[0], { type: 'http', path: '/healthz' });
  t.false(JSON.stringify(job).includes('cache_secret_key'), 'the cache never sees the signing key');
});

/**
 * The cached node job's env template as Nomad renders it for a cache registered at
 * `url` and the variable's public key: every template action is replaced, and none may be left.
 */
function renderEnvTemplate(text: string, url: string, publicKey: string): string {
  const rendered = text
    .replace('{{ $cache := "" }}{{ range nomadService "nixmount-cache" }}{{ $cache = printf "http://%s:%d" .Address .Port }}{{ end }}\n', '')
    .replaceAll('{{ $cache }}', url)
    .replaceAll('{{ with nomadVar "nomad/jobs/nixmount" }}{{ .cache_public_key }}{{ end }}', publicKey);
  if (rendered.includes('{{')) throw new Error(`a template action the test does not know:\n${rendered}`);
  return rendered;
}

test('the cached node job is the plugin job plus the wiring: the cache first, pushed to, its key from the job\'s variable', async (t) => {
  const plain = await jobOf('nixmount.nomad.hcl');
  const cached = await jobOf('nixmount-cached.nomad.hcl');
  t.is(cached.name, plain.name, 'the same job: running one replaces the other');
  const plainTask = taskOf(only(plain.job, 'group'), 'plugin');
  const task = taskOf(only(cached.job, 'group'), 'plugin');
  // Everything but env and templates is the plugin job's.
  const rest = (body: Body) => Object.fromEntries(Object.entries(body).filter(([key]) => key !== 'env' && key !== 'template'));
  t.deepEqual(rest(task), rest(plainTask));
  t.deepEqual(rest(only(cached.job, 'group')).network, rest(only(plain.job, 'group')).network);

  const key = templateAt(task, 'secrets/cache-key');
  t.is(key.perms, '0400');
  t.is(key.data, '{{ with nomadVar "nomad/jobs/nixmount" }}{{ .cache_secret_key }}{{ end }}', 'the job\'s own variable, which only its tasks read');
  const envTemplate = templateAt(task, 'secrets/cache.env');
  t.is(envTemplate.env, true);
  const url = 'http://10.0.0.7:25831';
  const env = {
    ...parseEnviron(renderEnvTemplate(envTemplate.data, url, 'nixmount-cluster-1:PUBLIC=').split('\n').map((line) => line.replace(/^(\w+)="(.*)"$/, '$1=$2')).join('\0')),
    ...(blocks(task, 'env')[0] as Record<string, string>),
  };
  const args = blocks(task, 'config')[0]!.args as string[];
  const { values } = parseCommandLine(optionsOf('serve', PLUGIN_OPTIONS, ADAPTER_OPTIONS), args.slice(args.indexOf('serve') + 1), env);
  t.deepEqual(values.substituters, [url, UPSTREAM_CACHE]);
  t.is(values.pushTo, url);
  t.deepEqual(values.trustedPublicKeys, ['nixmount-cluster-1:PUBLIC=', UPSTREAM_KEY]);
  // Docker mounts the task's secrets/ directory at /secrets.
  t.is(values.pushKeyFile, `/${key.destination}`);
  t.false(JSON.stringify(blocks(task, 'env')).includes('cache_secret_key'), 'the secret key is a file, never a variable');
});
