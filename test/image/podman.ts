import { randomBytes } from 'node:crypto';
import { access, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { imageReference } from '../../src/adapters/kubernetes/manifests/image.js';
import { packageVersion } from '../../src/settings/version.js';
import { CsiClient } from '../helpers/csi-client.js';
import { gcRootDirFor } from '../helpers/node-clean.js';
import { REPO } from '../deploy/nixos-node.js';

export const IMAGE = imageReference(packageVersion());
/** The same podman settings as `npm run image` (runc, cgroupfs, limits a sandbox allows). */
export const PODMAN_ENV = { CONTAINERS_CONF: join(REPO, 'scripts/image-containers.conf') };

export function podman(args: string[]) {
  return execa('podman', args, { env: PODMAN_ENV });
}

export interface Container {
  name: string;
  client: CsiClient;
  /** The plugin's pid on the host (the container's init). */
  pid(): Promise<number>;
  logs(): Promise<string>;
}

/**
 * Runs the image as the DaemonSet or the Nomad job would: privileged, host network (a
 * loopback cache), the given bind mounts (`host:container[:options]`), `args` after the
 * ENTRYPOINT (nixmount). Waits until Probe is ready on `socket` (the host's path); removed after the test.
 */
export async function runPlugin(t: ExecutionContext, options: { volumes: string[]; args: string[]; socket: string; env?: Record<string, string> }): Promise<Container> {
  const name = `nixmount-test-${randomBytes(4).toString('hex')}`;
  const env = Object.entries(options.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  const volumes = options.volumes.flatMap((v) => ['--volume', v]);
  await podman(['run', '--detach', '--name', name, '--privileged', '--network', 'host', ...env, ...volumes, IMAGE, ...options.args]);
  const client = new CsiClient(options.socket);
  const logs = async () => (await execa('podman', ['logs', name], { env: PODMAN_ENV, reject: false, all: true })).all ?? '';
  t.teardown(async () => {
    client.close();
    await execa('podman', ['stop', '--time', '15', name], { env: PODMAN_ENV, reject: false });
    const out = await execa('podman', ['logs', name], { env: PODMAN_ENV, reject: false, all: true });
    if (process.env.NIXMOUNT_TEST_LOG) t.log(out.all);
    await execa('podman', ['rm', '--force', name], { env: PODMAN_ENV, reject: false });
  });
  for (let i = 0; i < 600; i++) {
    if (await access(options.socket).then(() => true, () => false)) {
      try {
        if ((await client.call('identity', 'Probe', {}, 2000)).ready?.value) break;
      } catch {
        // not answering yet
      }
    }
    const state = await execa('podman', ['inspect', '--format', '{{.State.Running}}', name], { env: PODMAN_ENV, reject: false });
    if (state.stdout.trim() === 'false') throw new Error(`the container stopped: ${(await execa('podman', ['logs', name], { env: PODMAN_ENV, reject: false, all: true })).all}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (i === 599) throw new Error(`the plugin in ${name} never became ready`);
  }
  return {
    name,
    client,
    logs,
    pid: async () => Number((await podman(['inspect', '--format', '{{.State.Pid}}', name])).stdout.trim()),
  };
}

/** Resident memory of a process, in MiB, from /proc. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/**
 * A state dir of its own under the host's /nix (the plugin in the container uses the host's
 * store): removed after the test, with the GC roots the plugin made for it in the node store.
 */
export async function hostStateDir(t: ExecutionContext): Promise<string> {
  const dir = `/nix/var/nixmount-image-test-${randomBytes(4).toString('hex')}`;
  t.teardown(async () => {
    // Only this state dir's roots: other tests' plugins share the node store's gcroots.
    await rm(await gcRootDirFor(dir), { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Appends a line to the image report (.cache/image/report.txt), quoted in the README and the closing note. */
export async function report(line: string): Promise<void> {
  const { appendFile, mkdir } = await import('node:fs/promises');
  await mkdir(join(REPO, '.cache/image'), { recursive: true });
  await appendFile(join(REPO, '.cache/image/report.txt'), `${new Date().toISOString()} ${line}\n`);
}
