import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdir, readdir, realpath, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trialOverlayMount } from '../../src/doctor/overlayfs.js';
import { ExecaProcessRunner } from '../../src/platform/execa-process-runner.js';
import { createLogger } from '../../src/platform/pino-logger.js';
import { closedPort, pushSigned, signingKey, silentServer, startBinaryCache } from '../helpers/binary-cache.js';
import { mountsBelow } from '../helpers/mounts.js';
import { startNginxCache } from '../helpers/nginx-cache.js';
import { buildFixture, copyToChrootStore } from '../helpers/nix.js';
import { CLI, startServeProcess } from '../helpers/serve-process.js';
import { tempDir } from '../helpers/temp.js';
import { offlineNixEnv } from '../../support/nix-env.js';
import { packageVersion } from '../../src/settings/version.js';

// `nixmount doctor` on real states of this machine (root, Nix): each check put in the state
// it reports, and its exact line asserted. Mounts are made below temp dirs, which tempDir
// unmounts even when a test fails.

interface Run {
  exitCode: number;
  lines: string[];
  stdout: string;
  stderr: string;
}

async function doctor(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const result = await execa(process.execPath, [CLI, 'doctor', ...args], {
    env: { ...offlineNixEnv, NIXMOUNT_SUBSTITUTERS: '', ...env },
    reject: false,
  });
  const stdout = String(result.stdout);
  return { exitCode: result.exitCode ?? -1, lines: stdout.split('\n'), stdout, stderr: String(result.stderr) };
}

/** The line of `check` (the first, for checks with several). */
function lineOf(run: Run, check: string): string {
  const line = run.lines.find((candidate) => candidate.slice(8).startsWith(`${check}: `));
  if (line === undefined) throw new Error(`no ${check} line in:\n${run.stdout}\n${run.stderr}`);
  return line;
}

/** A tmpfs at `path` whose mountinfo source is `source`; `readOnly` remounts it so, after `prepare` ran on it. */
async function tmpfs(path: string, source: string, options: { size?: string; readOnly?: boolean; prepare?: () => Promise<void> } = {}): Promise<void> {
  await mkdir(path, { recursive: true });
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${options.size ?? '8m'}`, source, path]);
  await options.prepare?.();
  if (options.readOnly) await execa('mount', ['-o', 'remount,ro', path]);
}

/** A node in a temp dir: a store on a tmpfs of its own (`<dir>/node/nix/store`) and the socket's directory. */
async function node(t: ExecutionContext) {
  const dir = await realpath(await tempDir(t, 'nixmount-doctor-'));
  const root = join(dir, 'node');
  await tmpfs(root, 'doctor-store', { prepare: () => mkdir(join(root, 'nix/store'), { recursive: true }).then(() => undefined) });
  await mkdir(join(dir, 'csi'));
  const args = ['--store', `local?root=${root}`, '--state-dir', join(root, 'nix/var/nixmount'), '--endpoint', `unix://${dir}/csi/csi.sock`];
  return { dir, root, store: join(root, 'nix/store'), args };
}

test.serial('a healthy node: every check is ok, the exit status 0, and doctor leaves nothing behind', async (t) => {
  const { dir, root, store, args } = await node(t);
  const run = await doctor(args);
  t.is(run.exitCode, 0, run.stdout);
  t.deepEqual(run.lines.slice(0, -1).map((line) => line.slice(0, 8)), Array(13).fill('ok      '));
  t.is(run.lines.at(-1), 'no problem found (13 checks)');
  t.is(lineOf(run, 'adapter'), `ok      adapter: --orchestrator local: the local adapter builds with node id ${JSON.stringify(hostname())} and its options`);
  t.regex(lineOf(run, 'nix'), /^ok {6}nix: nix \(Nix\) \d+\.\d+\.\d+ \(\/\S+\/nix\)$/);
  t.is(lineOf(run, 'store'), `ok      store: ${store} (--store local?root=${root}) is readable and writable; Nix has not used it yet`);
  t.is(
    lineOf(run, 'state-dir'),
    `ok      state-dir: ${root}/nix/var/nixmount (to be made in ${root}/nix) is on the store's mount (tmpfs doctor-store at ${root}): views can hardlink into ${store}`,
  );
  t.is(lineOf(run, 'mount-helper'), 'ok      mount-helper: binds and unmounts are system calls made by the mount helper (perl): a warm publish spawns nothing');
  t.regex(
    lineOf(run, 'views'),
    /^ok {6}views: --view-mode auto: read-only volumes get bind-farm views \(one read-only bind per store path\) while the mount budget lasts, read-write volumes hardlink views; fs\.mount-max \d+ \(\/proc\/sys\/fs\/mount-max\), \d+ mounts present, \d+ kept free: \d+ read-only volumes of a 200-path closure fit as bind farms, later ones get hardlink views$/,
  );
  t.is(lineOf(run, 'propagation'), 'ok      propagation: --orchestrator local: volumes are mounted where they are used, in this mount namespace; nothing has to propagate');
  t.is(lineOf(run, 'socket'), `ok      socket: ${dir}/csi takes a socket; nothing listens on ${dir}/csi/csi.sock yet`);
  t.is(lineOf(run, 'substituter'), "ok      substituter: none configured (Nix's configuration with nixmount's flags): every store path must already be on the node");
  t.is(lineOf(run, 'push-cache'), 'ok      push-cache: none (--push-to not set): what this node builds stays on it');
  t.regex(lineOf(run, 'disk'), new RegExp(`^ok {6}disk: the store's filesystem \\(${store}\\) is \\d+% full, [\\d.]+ MiB free; below 90%, with no store GC watermark set$`));
  // Nothing made: no state dir, no trial socket, no temp dir.
  t.deepEqual(await readdir(join(dir, 'csi')), []);
  t.deepEqual(await readdir(join(root, 'nix')), ['store']);
});

test.serial('--json prints an array of {check, status, message, fix}, exit status 1 with a problem', async (t) => {
  const { dir, args } = await node(t);
  const port = await closedPort();
  const run = await doctor([...args, '--json', '--connect-timeout', '2s'], { NIXMOUNT_SUBSTITUTERS: `http://127.0.0.1:${port}`, NIXMOUNT_TRUSTED_PUBLIC_KEYS: 'test-1:AAAA' });
  t.is(run.exitCode, 1);
  const results = JSON.parse(run.stdout) as Array<Record<string, unknown>>;
  t.true(Array.isArray(results));
  t.deepEqual(results.map((result) => result.check), ['nix', 'store', 'state-dir', 'overlayfs', 'mount-helper', 'adapter', 'views', 'propagation', 'socket', 'trusted-keys', 'substituter', 'push-cache', 'disk', 'orchestrator']);
  for (const result of results) {
    t.deepEqual(Object.keys(result), ['check', 'status', 'message', 'fix']);
    t.true(['ok', 'problem', 'info'].includes(result.status as string));
    t.is(typeof result.message, 'string');
    t.is(result.fix === null, result.status === 'ok', `${String(result.check)}: a fix exactly when there is something to do`);
  }
  t.deepEqual(results.find((result) => result.check === 'substituter'), {
    check: 'substituter',
    status: 'problem',
    message: `http://127.0.0.1:${port} is unreachable (ECONNREFUSED)`,
    fix: "check the URL and this node's route to it (proxy, firewall, DNS), or remove it from --substituters: every realisation waits --connect-timeout on it",
  });
  t.deepEqual(results.find((result) => result.check === 'socket'), { check: 'socket', status: 'ok', message: `${dir}/csi takes a socket; nothing listens on ${dir}/csi/csi.sock yet`, fix: null });
});

test.serial('--push-to and --push-key-file reach the push-cache check: a real nginx cache, then the same one stopped', async (t) => {
  const { args } = await node(t);
  const cache = await startNginxCache(t);
  const key = await signingKey(t, 'nixmount-cluster-1');
  const push = [...args, '--connect-timeout', '2s', '--push-to', cache.url, '--push-key-file', key.secretKeyFile];
  const up = await doctor(push, { NIXMOUNT_TRUSTED_PUBLIC_KEYS: key.publicKey });
  const lines = up.lines.filter((line) => line.slice(8).startsWith('push-cache: '));
  t.is(lines[0], `ok      push-cache: pushes are signed as ${key.publicKey}`);
  t.regex(lines[1]!, new RegExp(`^info {4}push-cache: ${cache.url} answers \\(\\d+ ms\\) but has no nix-cache-info yet — fix: `));
  t.is(up.exitCode, 0, up.stdout);
  await cache.stop();
  const down = await doctor(push, { NIXMOUNT_TRUSTED_PUBLIC_KEYS: key.publicKey });
  t.is(down.exitCode, 1);
  t.true(down.lines.includes(`problem push-cache: ${cache.url} is unreachable (ECONNREFUSED): what this node realises stays queued and is not shared — fix: check the cache (its pod or job) and this node's route to it; pushes are retried in the background`), down.stdout);
});

test.serial('nix missing from PATH', async (t) => {
  const { args } = await node(t);
  const empty = await tempDir(t, 'nixmount-doctor-path-');
  const run = await doctor(args, { PATH: empty });
  t.is(run.exitCode, 1);
  t.is(
    lineOf(run, 'nix'),
    `problem nix: nix and nix-store not found on PATH (${empty}) — fix: install Nix on the node (Debian: apt-get install nix-bin; the nixmount image has it) or put the directory holding nix and nix-store on PATH`,
  );
  t.is(run.lines.at(-1), '2 problems found (13 checks)');
  t.regex(
    lineOf(run, 'mount-helper'),
    /^problem mount-helper: util-linux does the binds and unmounts \(no perl on PATH\), and its trial umount of an empty directory failed: .*umount.*ENOENT.* — fix: install util-linux \(Debian: mount\) on the PATH of nixmount serve$/,
  );
});

test.serial('the mount helper: off, and no perl on PATH (util-linux there), are info lines saying why', async (t) => {
  const { args } = await node(t);
  const off = await doctor([...args, '--mount-helper', 'off']);
  t.is(
    lineOf(off, 'mount-helper'),
    'info    mount-helper: binds and unmounts spawn util-linux mount and umount for each volume (--mount-helper off): a warm publish takes milliseconds more — fix: leave --mount-helper at auto unless it misbehaves',
  );
  const bin = await tempDir(t, 'nixmount-doctor-path-');
  for (const tool of ['mount', 'umount', 'setpriv', 'nix', 'nix-store']) await execa('ln', ['-s', (await execa('which', [tool])).stdout, join(bin, tool)]);
  const noPerl = await doctor(args, { PATH: bin });
  t.is(
    lineOf(noPerl, 'mount-helper'),
    'info    mount-helper: binds and unmounts spawn util-linux mount and umount for each volume (no perl on PATH): a warm publish takes milliseconds more — fix: put perl (Debian: perl-base) on the PATH of nixmount serve',
  );
});

test.serial('a store whose Nix state cannot be written (a read-only filesystem)', async (t) => {
  const dir = await realpath(await tempDir(t, 'nixmount-doctor-'));
  const root = join(dir, 'ro');
  await tmpfs(root, 'doctor-ro', { readOnly: true, prepare: () => mkdir(join(root, 'nix/var/nix'), { recursive: true }).then(() => mkdir(join(root, 'nix/store'))) });
  const run = await doctor(['--store', `local?root=${root}`, '--state-dir', join(dir, 'state'), '--endpoint', `unix://${dir}/csi.sock`]);
  t.is(run.exitCode, 1);
  t.is(
    lineOf(run, 'store'),
    `problem store: ${root}/nix/var/nix is not writable (EROFS): Nix cannot record what it substitutes, nor nixmount root its views — fix: mount the node's /nix into the plugin read-write`,
  );
});

test.serial('a state dir on another filesystem than the store', async (t) => {
  const { dir, root, store, args } = await node(t);
  const other = join(dir, 'other');
  await tmpfs(other, 'doctor-state');
  const run = await doctor([...args, '--state-dir', join(other, 'state')]);
  t.is(run.exitCode, 1);
  t.is(
    lineOf(run, 'state-dir'),
    `problem state-dir: ${other}/state (to be made in ${other}) is on tmpfs doctor-state at ${other}, another filesystem than ${store} (tmpfs doctor-store at ${root}); ` +
      `views are hardlinks into the store and cannot cross filesystems — fix: set --state-dir to a directory on the store's filesystem, e.g. ${root}/nix/var/nixmount`,
  );
});

test.serial('NixOS: the store a read-only bind of itself is fine, views reach around it; doctor changes no mount', async (t) => {
  const dir = await realpath(await tempDir(t, 'nixmount-doctor-nixos-'));
  const store = join(dir, 'nix/store');
  await mkdir(store, { recursive: true });
  await execa('mount', ['--bind', store, store]);
  await execa('mount', ['-o', 'remount,bind,ro', store]);
  const args = ['--store', `local?root=${dir}`, '--state-dir', join(dir, 'nix/var/nixmount'), '--endpoint', `unix://${dir}/csi.sock`];
  const run = await doctor(args);
  t.is(
    lineOf(run, 'state-dir'),
    `ok      state-dir: ${store} is a bind mount of itself (as NixOS mounts it) and ${dir}/nix/var/nixmount (to be made in ${dir}/nix) is on the mount that holds its directory: ` +
      'views hardlink into it from a private mount namespace, changing no mount here',
  );
  t.is(
    lineOf(run, 'store'),
    `ok      store: ${store} (--store local?root=${dir}) is readable and writable (a read-only bind of itself, as NixOS mounts it: Nix writes through its own remount); Nix has not used it yet`,
  );
  t.is(run.exitCode, 0, run.stdout);
  // The bind is still there, still read-only.
  t.deepEqual(await mountsBelow(dir), [store]);
  t.regex((await execa('findmnt', ['-n', '-o', 'OPTIONS', store])).stdout, /^ro,/);
});

test.serial('kubelet\'s directory on a private mount: published volumes would never reach the pods', async (t) => {
  const { dir, args } = await node(t);
  const kubelet = join(dir, 'kubelet');
  await mkdir(kubelet);
  await execa('mount', ['--bind', kubelet, kubelet]);
  await execa('mount', ['--make-private', kubelet]);
  const run = await doctor([...args, '--orchestrator', 'kubernetes', '--kubelet-dir', kubelet]);
  t.is(run.exitCode, 1);
  t.is(
    lineOf(run, 'propagation'),
    `problem propagation: ${kubelet} (--kubelet-dir) is on the mount at ${kubelet}, whose propagation is private: volumes mounted there never reach the workloads — ` +
      `fix: mount kubelet's directory into the plugin's container at ${kubelet} with mountPropagation: Bidirectional (privileged), and on the host keep it on a shared mount ` +
      `(findmnt -o TARGET,PROPAGATION ${kubelet}; \`mount --make-rshared /\` if the host's / is private); --kubelet-dir must be kubelet's --root-dir`,
  );
  t.is(
    lineOf(run, 'orchestrator'),
    'info    orchestrator: kubelet before Kubernetes 1.26 sends the socket path as the gRPC :authority, which Node\'s HTTP/2 refuses before nixmount sees the call ' +
      '(the plugin logs "a gRPC call was refused…"); no kubelet on this PATH, so this node\'s version cannot be read from here — ' +
      'fix: make sure: run Kubernetes 1.26 or later on this node (kubectl get node NODE -o jsonpath=\'{.status.nodeInfo.kubeletVersion}\')',
  );
  await execa('mount', ['--make-shared', kubelet]);
  const shared = await doctor([...args, '--orchestrator', 'kubernetes', '--kubelet-dir', kubelet]);
  t.regex(lineOf(shared, 'propagation'), new RegExp(`^ok {6}propagation: ${kubelet} \\(--kubelet-dir\\) is on the mount at ${kubelet}, whose propagation is shared \\(shared:\\d+\\): volumes mounted there reach the workloads$`));
  t.is(shared.exitCode, 0, shared.stdout);
});

// The Docker Swarm adapter of sdk-examples/, as compiled by `npm run build`: an adapter module nixmount does not ship.
const SWARM_MODULE = fileURLToPath(new URL('../../../sdk-examples/docker-swarm/dist/src/adapter.js', import.meta.url));

test.serial('an adapter module names its own propagated directory: doctor checks it as it checks kubelet\'s', async (t) => {
  const { dir, args } = await node(t);
  const published = join(dir, 'published');
  await mkdir(published);
  await execa('mount', ['--bind', published, published]);
  await execa('mount', ['--make-private', published]);
  const run = await doctor([...args, '--adapter-module', SWARM_MODULE, '--adapter-option', `published-dir=${published}`]);
  t.is(run.exitCode, 1);
  t.is(
    lineOf(run, 'propagation'),
    `problem propagation: ${published} (--adapter-option published-dir=…) is on the mount at ${published}, whose propagation is private: volumes mounted there never reach the workloads — ` +
      `fix: --adapter-option published-dir=… must name the directory the orchestrator takes its mounts from, on a shared mount in the plugin's namespace and the host's ` +
      `(mount --bind ${published} ${published} && mount --make-shared ${published}, or the orchestrator's own propagation setting)`,
  );
  t.is(lineOf(run, 'orchestrator'), `ok      orchestrator: --adapter-module ${SWARM_MODULE} (docker-swarm): no kubelet or Nomad client calls the plugin, so their versions do not matter`);
});

test.serial('an adapter module whose options serve refuses is a problem of doctor too, naming the module as given and no --orchestrator', async (t) => {
  const { dir, args } = await node(t);
  const published = join(dir, 'published');
  await mkdir(published);
  const options = ['--adapter-module', SWARM_MODULE, '--node-id', 'swarm-1', '--adapter-option', `published-dir=${published}`, '--adapter-option', `staged-dir=${published}/staged`];
  const run = await doctor([...args, ...options]);
  t.is(run.exitCode, 1);
  t.is(
    lineOf(run, 'adapter'),
    `problem adapter: --adapter-module ${SWARM_MODULE} (docker-swarm): the adapter refuses to build, so serve would not start: ` +
      `docker-swarm: published-dir ${published} and staged-dir ${published}/staged must not contain each other — ` +
      'fix: correct the adapter option or --node-id it names (docs/adapters.md, "Adapter options")',
  );
  t.false(run.stdout.includes('--orchestrator'), run.stdout);
  // serve refuses the same options at start.
  const serve = await execa(process.execPath, [CLI, 'serve', ...args, ...options], { env: { ...offlineNixEnv, NIXMOUNT_SUBSTITUTERS: '' }, reject: false, timeout: 30_000 });
  t.is(serve.exitCode, 1);
  t.regex(String(serve.stderr), /must not contain each other/);
});

test.serial('Nomad\'s stage_publish_base_dir missing', async (t) => {
  const { dir, args } = await node(t);
  const run = await doctor([...args, '--orchestrator', 'nomad', '--stage-publish-base-dir', join(dir, 'absent')]);
  t.is(run.exitCode, 1);
  t.is(
    lineOf(run, 'propagation'),
    `problem propagation: ${dir}/absent (--stage-publish-base-dir) cannot be resolved (ENOENT) — fix: --stage-publish-base-dir must be the csi_plugin's stage_publish_base_dir on a shared mount: ` +
      `the docker driver mounts it shared for a csi_plugin task; for raw_exec make it one on the host (mount --bind ${dir}/absent ${dir}/absent && mount --make-shared ${dir}/absent)`,
  );
});

test.serial('a socket directory on a read-only filesystem', async (t) => {
  const { dir, args } = await node(t);
  const sockets = join(dir, 'sockets');
  await tmpfs(sockets, 'doctor-sockets', { readOnly: true });
  const run = await doctor([...args, '--endpoint', `unix://${sockets}/csi.sock`]);
  t.is(run.exitCode, 1);
  t.is(
    lineOf(run, 'socket'),
    `problem socket: cannot create a socket in ${sockets}: EROFS — fix: mount the socket's directory read-write into the plugin ` +
      '(Kubernetes: the socket-dir hostPath <kubelet-dir>/plugins/<driver-name>; Nomad: the csi_plugin\'s mount_dir)',
  );
});

test.serial('caches: refused, silent, and none of their keys trusted', async (t) => {
  const { args } = await node(t);
  const refused = `http://127.0.0.1:${await closedPort()}`;
  const silent = await silentServer(t);
  const run = await doctor([...args, '--connect-timeout', '1s'], { NIXMOUNT_SUBSTITUTERS: `${refused} ${silent} s3://bucket`, NIXMOUNT_TRUSTED_PUBLIC_KEYS: '' });
  t.is(run.exitCode, 1);
  const caches = run.lines.filter((line) => /^\w+ +(substituter|trusted-keys): /.test(line));
  t.deepEqual(caches, [
    `problem trusted-keys: no trusted public key (Nix's configuration with nixmount's flags), so nothing from ${refused}, ${silent}, s3://bucket is accepted: nixmount requires signatures — ` +
      "fix: set --trusted-public-keys (NIXMOUNT_TRUSTED_PUBLIC_KEYS) to each cache's public key, NAME:BASE64",
    `problem substituter: ${refused} is unreachable (ECONNREFUSED) — fix: check the URL and this node's route to it (proxy, firewall, DNS), or remove it from --substituters: every realisation waits --connect-timeout on it`,
    `problem substituter: ${silent} is unreachable (no answer within 1s) — fix: check the URL and this node's route to it (proxy, firewall, DNS), or remove it from --substituters: every realisation waits --connect-timeout on it`,
    "info    substituter: s3://bucket not checked: doctor checks http, https and file caches — fix: check it with `nix store ping --store 's3://bucket'`",
  ]);
});

test.serial('a signed cache on loopback: its key trusted, then not', async (t) => {
  const dir = await realpath(await tempDir(t, 'nixmount-doctor-cache-'));
  const fixture = await buildFixture('doctor');
  await copyToChrootStore(dir, fixture.closure);
  const cache = await startBinaryCache(t);
  const key = await signingKey(t, 'doctor-cache-1');
  const other = await signingKey(t, 'someone-else-1');
  await pushSigned(cache, key, fixture.closure);
  const args = ['--store', `local?root=${dir}`, '--state-dir', join(dir, 'nix/var/nixmount'), '--endpoint', `unix://${dir}/csi.sock`];

  const trusted = await doctor(args, { NIXMOUNT_SUBSTITUTERS: cache.url, NIXMOUNT_TRUSTED_PUBLIC_KEYS: `${other.publicKey} ${key.publicKey}` });
  t.is(lineOf(trusted, 'trusted-keys'), "ok      trusted-keys: someone-else-1, doctor-cache-1 (Nix's configuration with nixmount's flags)");
  t.regex(lineOf(trusted, 'substituter'), new RegExp(`^ok {6}substituter: ${cache.url} answers \\(\\d+ ms\\) and signs with doctor-cache-1, which this node trusts$`));
  t.is(lineOf(trusted, 'store'), `ok      store: ${dir}/nix/store (--store local?root=${dir}) is readable and writable, and Nix opens it`);
  t.is(trusted.exitCode, 0, trusted.stdout);

  // Store URL parameters (Nix takes ?priority=… on a substituter) are not part of the cache's paths.
  const withPriority = await doctor(args, { NIXMOUNT_SUBSTITUTERS: `${cache.url}?priority=30`, NIXMOUNT_TRUSTED_PUBLIC_KEYS: key.publicKey });
  t.regex(lineOf(withPriority, 'substituter'), new RegExp(`^ok {6}substituter: ${cache.url}\\?priority=30 answers \\(\\d+ ms\\) and signs with doctor-cache-1, which this node trusts$`));

  const untrusted = await doctor(args, { NIXMOUNT_SUBSTITUTERS: cache.url, NIXMOUNT_TRUSTED_PUBLIC_KEYS: other.publicKey });
  t.is(untrusted.exitCode, 1);
  t.regex(
    lineOf(untrusted, 'substituter'),
    new RegExp(
      `^problem substituter: ${cache.url} answers \\(\\d+ ms\\), but its [0-9a-z]{32}\\.narinfo is signed by doctor-cache-1, which this node does not trust: nothing from it is accepted — ` +
        'fix: add the cache\'s public key \\(doctor-cache-1:…\\) to --trusted-public-keys \\(NIXMOUNT_TRUSTED_PUBLIC_KEYS\\)$',
    ),
  );
});

test.serial('a store filesystem above the warning threshold', async (t) => {
  const dir = await realpath(await tempDir(t, 'nixmount-doctor-'));
  const root = join(dir, 'small');
  // 1 MiB = 256 pages; 240 of them filled: 94% used, 16 pages (64 KiB) free.
  await tmpfs(root, 'doctor-small', {
    size: '1m',
    prepare: async () => {
      await mkdir(join(root, 'nix/store'), { recursive: true });
      await writeFile(join(root, 'fill'), Buffer.alloc(240 * 4096));
    },
  });
  const run = await doctor(['--store', `local?root=${root}`, '--state-dir', join(root, 'nix/var/nixmount'), '--endpoint', `unix://${dir}/csi.sock`]);
  t.is(run.exitCode, 1);
  t.is(
    lineOf(run, 'disk'),
    `problem disk: the store's filesystem (${root}/nix/store) is 94% full, 64.0 KiB free: at or above 90%, with no store GC watermark set — ` +
      'fix: free space: remove views no volume uses (nixmount gc), then collect the store (nix-collect-garbage, which spares what views root), or grow the filesystem',
  );
});

test.serial('the overlay trial mount leaves nothing, and says why it could not try on a read-only filesystem', async (t) => {
  const runner = new ExecaProcessRunner(createLogger({ level: 'silent' }));
  const dir = await realpath(await tempDir(t, 'nixmount-doctor-overlay-'));
  t.is(await trialOverlayMount(runner, dir), undefined);
  t.deepEqual(await readdir(dir), []);
  t.deepEqual(await mountsBelow(dir), []);
  const readOnly = join(dir, 'ro');
  await tmpfs(readOnly, 'doctor-overlay', { readOnly: true });
  t.is(await trialOverlayMount(runner, readOnly), `cannot make a temp dir in ${readOnly} to try one (EROFS)`);
});

test.serial('--serve-pid judges the running serve\'s own flags and variables', async (t) => {
  const { dir, root } = await node(t);
  const state = join(root, 'nix/var/served');
  const socket = join(dir, 'csi/csi.sock');
  const serve = await startServeProcess(['--store', `local?root=${root}`, '--endpoint', `unix://${socket}`], socket, { env: { NIXMOUNT_STATE_DIR: state, NIXMOUNT_SUBSTITUTERS: '' } });
  t.teardown(async () => {
    serve.client.close();
    serve.child.kill('SIGTERM');
    await serve.child;
  });
  // doctor's own options point elsewhere; --serve-pid replaces them with serve's.
  const run = await doctor(['--serve-pid', String(serve.child.pid), '--state-dir', '/nonexistent', '--endpoint', 'unix:///nonexistent/csi.sock']);
  t.is(run.lines[0], `ok      serve-pid: checking the options of nixmount serve, process ${serve.child.pid} (--orchestrator local, --state-dir ${state})`);
  t.is(lineOf(run, 'socket'), `ok      socket: ${dir}/csi takes a socket, and nixmount.csi.nixos.dev ${packageVersion()} answers ready on ${socket}`);
  t.regex(lineOf(run, 'state-dir'), new RegExp(`^ok {6}state-dir: ${state} is on the store's mount \\(tmpfs doctor-store at ${root}\\)`));
  t.is(run.exitCode, 0, run.stdout);

  const sleeper = execa('sleep', ['30']);
  t.teardown(() => {
    sleeper.kill();
    return sleeper.catch(() => undefined);
  });
  const wrong = await doctor(['--serve-pid', String(sleeper.pid)]);
  t.is(wrong.exitCode, 1);
  t.is(wrong.stderr, `nixmount: --serve-pid: process ${sleeper.pid} is not a nixmount serve (sleep 30)`);
});

test.serial('--serve-pid of a serve that pushes reads its push queue from its own metrics', async (t) => {
  const { dir, root } = await node(t);
  const socket = join(dir, 'csi/csi.sock');
  const metrics = `127.0.0.1:${await closedPort()}`;
  const cache = `http://127.0.0.1:${await closedPort()}`;
  const serve = await startServeProcess(
    ['--store', `local?root=${root}`, '--endpoint', `unix://${socket}`, '--state-dir', join(root, 'nix/var/nixmount'), '--push-to', cache, '--metrics-address', metrics],
    socket,
    { env: { NIXMOUNT_SUBSTITUTERS: '' } },
  );
  t.teardown(async () => {
    serve.client.close();
    serve.child.kill('SIGTERM');
    await serve.child;
  });
  const run = await doctor(['--serve-pid', String(serve.child.pid)]);
  t.is(lineOf(run, 'push-queue'), `ok      push-queue: nothing waits for ${cache} (rounds so far: 0 pushed, 0 failed)`);
  // Without --serve-pid doctor does not know where serve's metrics are: no line.
  const own = await doctor(['--push-to', cache, '--state-dir', join(root, 'nix/var/nixmount'), '--store', `local?root=${root}`]);
  t.false(own.lines.some((line) => line.slice(8).startsWith('push-queue: ')), own.stdout);
});

test.serial('--serve-pid of a serve in a mount namespace of its own: an info line says how to enter it', async (t) => {
  const { dir, root } = await node(t);
  const socket = join(dir, 'csi/csi.sock');
  // As own-store runs serve under raw_exec: unshare execs node, so the child's pid is serve's.
  const serve = execa('unshare', ['--mount', '--propagation', 'unchanged', '--', process.execPath, CLI, 'serve', '--store', `local?root=${root}`, '--endpoint', `unix://${socket}`, '--state-dir', join(root, 'nix/var/nixmount')], {
    env: { ...offlineNixEnv, NIXMOUNT_SUBSTITUTERS: '', NIXMOUNT_LOG_LEVEL: 'warn' },
    reject: false,
  });
  t.teardown(async () => {
    serve.kill('SIGTERM');
    await serve;
  });
  for (let i = 0; i < 200 && !(await readdir(join(dir, 'csi'))).includes('csi.sock'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  const run = await doctor(['--serve-pid', String(serve.pid)]);
  t.is(
    run.lines[0],
    `info    serve-pid: checking the options of nixmount serve, process ${serve.pid} (--orchestrator local, --state-dir ${root}/nix/var/nixmount), from another mount namespace than that process's: ` +
      "the mount checks (store, state-dir, overlayfs, propagation, socket) see doctor's mounts, not serve's — " +
      `fix: run doctor in serve's mount namespace: nsenter --target ${serve.pid} --mount -- nixmount doctor --serve-pid ${serve.pid}`,
  );
  // The fix works: in serve's namespace the line is ok.
  const entered = await execa('nsenter', ['--target', String(serve.pid), '--mount', '--', process.execPath, CLI, 'doctor', '--serve-pid', String(serve.pid)], { env: offlineNixEnv, reject: false });
  t.is(String(entered.stdout).split('\n')[0], `ok      serve-pid: checking the options of nixmount serve, process ${serve.pid} (--orchestrator local, --state-dir ${root}/nix/var/nixmount)`);
});

test.serial('a Nomad client too old for a valid :authority, read from the nomad on PATH', async (t) => {
  const { dir, args } = await node(t);
  const base = join(dir, 'csi-base');
  await mkdir(base);
  await execa('mount', ['--bind', base, base]);
  await execa('mount', ['--make-shared', base]);
  const bin = join(dir, 'bin');
  await mkdir(bin);
  const nomad = async (version: string) => {
    await writeFile(join(bin, 'nomad'), `#!/bin/sh\n[ "$1" = version ] && echo "Nomad ${version} (a6c6b475db5073e33885377b4a5c733e1161020c)"\n`, { mode: 0o755 });
    return doctor([...args, '--orchestrator', 'nomad', '--stage-publish-base-dir', base], { PATH: `${bin}:${process.env.PATH ?? ''}` });
  };
  const old = await nomad('v1.2.6');
  t.is(old.exitCode, 1);
  t.is(
    lineOf(old, 'orchestrator'),
    `problem orchestrator: Nomad v1.2.6 (a6c6b475db5073e33885377b4a5c733e1161020c) (${bin}/nomad): Nomad clients before 1.3.0 (other than 1.2.7+ and 1.1.13+) send the socket path ` +
      'as the gRPC :authority, which Node\'s HTTP/2 refuses before nixmount sees the call (hashicorp/nomad#12359; the plugin logs "a gRPC call was refused…") — ' +
      'fix: run Nomad 1.3.0 or later (or 1.2.7+, 1.1.13+) on this node',
  );
  const fixed = await nomad('v1.2.7');
  t.is(lineOf(fixed, 'orchestrator'), `ok      orchestrator: Nomad v1.2.7 (a6c6b475db5073e33885377b4a5c733e1161020c) (${bin}/nomad) sends a valid gRPC :authority`);
  t.is(fixed.exitCode, 0, fixed.stdout);
});

test.serial('something that is not a CSI plugin on the socket', async (t) => {
  const { dir, args } = await node(t);
  const socket = join(dir, 'csi/csi.sock');
  // A server that accepts and hangs up, in a process of its own (as a foreign program would be).
  const foreign = execa(process.execPath, ['-e', `require('node:net').createServer((c) => c.end()).listen(${JSON.stringify(socket)})`], { reject: false });
  t.teardown(() => {
    foreign.kill();
    return foreign.then(() => undefined);
  });
  for (let i = 0; i < 200 && !(await readdir(join(dir, 'csi'))).includes('csi.sock'); i++) await new Promise((resolve) => setTimeout(resolve, 25));
  const run = await doctor(args);
  t.is(run.exitCode, 1);
  t.is(
    lineOf(run, 'socket'),
    `problem socket: something accepts connections on ${socket} but does not answer CSI Identity calls (gRPC UNAVAILABLE) — ` +
      "fix: is another program (or another plugin) on this socket? Compare --endpoint with the sidecars' --csi-address",
  );
});

test.serial('a Nix too old for nix-command, and a store database Nix cannot open', async (t) => {
  const { dir, root, store, args } = await node(t);
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'nix'), '#!/bin/sh\necho "nix (Nix) 2.3.16"\n', { mode: 0o755 });
  await writeFile(join(bin, 'nix-store'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const old = await doctor(args, { PATH: `${bin}:${process.env.PATH ?? ''}` });
  t.is(lineOf(old, 'nix'), `problem nix: nix (Nix) 2.3.16 (${bin}/nix) is older than Nix 2.4, which nixmount needs (nix-command) — fix: install Nix 2.4 or later`);

  await mkdir(join(root, 'nix/var/nix/db'), { recursive: true });
  await writeFile(join(root, 'nix/var/nix/db/db.sqlite'), 'not a database, 32 bytes or more of it');
  const broken = await doctor(args);
  t.is(broken.exitCode, 1);
  t.regex(
    lineOf(broken, 'store'),
    new RegExp(`^problem store: Nix cannot open ${store} \\(--store local\\?root=${root}\\): .*not a database.* — fix: run \`nix store ping\` with the same --store on the node and fix what it says$`),
  );
});

test.serial('a socket path longer than a unix socket can be, and a file cache that is not there', async (t) => {
  const { dir, args } = await node(t);
  const long = `${dir}/csi/${'s'.repeat(120)}.sock`;
  const run = await doctor([...args, '--endpoint', `unix://${long}`], { NIXMOUNT_SUBSTITUTERS: `file://${dir}/no-cache`, NIXMOUNT_TRUSTED_PUBLIC_KEYS: 'test-1:AAAA' });
  t.is(run.exitCode, 1);
  t.is(lineOf(run, 'socket'), `problem socket: ${long} is ${Buffer.byteLength(long)} bytes, longer than a unix socket path can be (107) — fix: use a shorter --endpoint path`);
  t.is(lineOf(run, 'substituter'), `problem substituter: file://${dir}/no-cache has no readable nix-cache-info (ENOENT) — fix: check the path, and that it is mounted into the plugin`);
});

test.serial('views: a tiny fs.mount-max leaves no room for bind farms (info), --view-mode hardlink says so', async (t) => {
  const { dir, args } = await node(t);
  const mountMax = join(dir, 'mount-max');
  await writeFile(mountMax, '10\n');
  const tiny = await doctor([...args, '--mount-max-file', mountMax]);
  t.regex(lineOf(tiny, 'views'), new RegExp(`^info {4}views: --view-mode auto: .*; fs\\.mount-max 10 \\(${mountMax}\\), \\d+ mounts present, 100 kept free: 0 read-only volumes of a 200-path closure fit as bind farms, later ones get hardlink views — fix: raise fs.mount-max \\(sysctl fs.mount-max\\) or expect hardlink views$`));
  const hardlink = await doctor([...args, '--view-mode', 'hardlink']);
  t.is(lineOf(hardlink, 'views'), 'ok      views: --view-mode hardlink: every view is a hardlink farm (cost per file)');
});
