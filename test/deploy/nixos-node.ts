import { access, mkdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { execa, type ResultPromise } from 'execa';
import { parse } from 'yaml';
import { blocks, labelledBlocks, parseHcl } from '../../src/adapters/nomad/tooling/hcl.js';
import { readMountInfo } from '../../src/platform/mountinfo.js';
import { CsiClient } from '../helpers/csi-client.js';
import { copyToChrootStore, nixEnv } from '../helpers/nix.js';
import { tempDir } from '../helpers/temp.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(REPO, 'dist/src/cli.js');

export interface NixosNode {
  /** The node's root: its store is <root>/nix/store, its /nix is <root>/nix. */
  root: string;
  store: string;
}

/**
 * A simulated NixOS node: a chroot store holding `paths`, whose nix/store is then made a
 * read-only bind mount of itself, as NixOS boots it. Unmounted with the temp dir.
 */
export async function nixosNode(t: ExecutionContext, paths: string[], options: { shared?: boolean } = {}): Promise<NixosNode> {
  const root = await realpath(await tempDir(t, 'nixmount-nixos-'));
  // A systemd host's / is a shared mount: every mount below it, the store's bind included,
  // has propagation peers. Made first, so the store's bind is made below a shared mount.
  if (options.shared) await sharedDir(root);
  await copyToChrootStore(root, paths);
  const store = join(root, 'nix/store');
  await execa('mount', ['--bind', store, store]);
  await execa('mount', ['-o', 'remount,bind,ro', store]);
  return { root, store };
}

/**
 * The host's mounts below `root` (mount point, what is mounted, per-mount options and
 * propagation), leaving out those below `except` (the volume targets a test publishes):
 * two snapshots are equal when nothing else in the host's mount table below `root` changed.
 */
export async function hostMountsBelow(root: string, except: string[] = []): Promise<string[]> {
  return (await readMountInfo())
    .filter((e) => (e.mountPoint === root || e.mountPoint.startsWith(`${root}/`)) && !except.some((x) => e.mountPoint.startsWith(`${x}/`)))
    .map((e) => `${e.mountPoint} ${e.source}:${e.root} ${e.options.join(',')} ${e.optionalFields.join(' ') || 'private'}`)
    .sort();
}

/** The mounts at `path` in the test's (the host's) namespace, with their per-mount options. */
export async function hostMountsAt(path: string): Promise<string[][]> {
  return (await readMountInfo()).filter((e) => e.mountPoint === path).map((e) => e.options);
}

/**
 * A directory the plugin's mounts propagate back from, as kubelet's directory does with
 * `mountPropagation: Bidirectional` and Nomad's stage_publish_base_dir does: a shared bind.
 */
export async function sharedDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
  await execa('mount', ['--bind', path, path]);
  await execa('mount', ['--make-shared', path]);
}

export async function daemonSetPluginArgs(): Promise<string[]> {
  const daemonSet = parse(await readFile(join(REPO, 'manifests/daemonset.yaml'), 'utf8'));
  const plugin = daemonSet.spec.template.spec.containers.find((c: { args?: string[] }) => c.args?.includes('serve'));
  return loopbackMetrics([...plugin.command.slice(1), ...plugin.args]);
}

/**
 * The artefact's metrics address moved to a free loopback port: a pod or a Nomad task has a
 * network of its own, a simulated node shares the test machine's with the other tests.
 */
function loopbackMetrics(args: string[]): string[] {
  return args.map((arg, i) => {
    if (arg.startsWith('--metrics-address=')) return '--metrics-address=127.0.0.1:0';
    return args[i - 1] === '--metrics-address' ? '127.0.0.1:0' : arg;
  });
}

export async function nomadJobArgs(file: string): Promise<string[]> {
  const text = await readFile(join(REPO, 'jobs', file), 'utf8');
  const [[, group]] = labelledBlocks(labelledBlocks(parseHcl(text, file), 'job')[0]![1], 'group') as [[string, Record<string, unknown>]];
  const [[, task]] = labelledBlocks(group, 'task') as [[string, Record<string, unknown>]];
  const config = blocks(task, 'config')[0]!;
  return loopbackMetrics(config.args as string[]);
}

/** Replaces one flag's value, in `--flag=value` or `--flag value` form; the flag must be there. */
export function setFlag(args: string[], flag: string, value: string): string[] {
  const out = [...args];
  const inline = out.findIndex((a) => a.startsWith(`--${flag}=`));
  if (inline !== -1) out[inline] = `--${flag}=${value}`;
  else {
    const at = out.indexOf(`--${flag}`);
    if (at === -1) throw new Error(`no --${flag} in ${out.join(' ')}`);
    out[at + 1] = value;
  }
  return out;
}

/** Adds flags right after `serve` (flags a test needs that the artefact leaves to the node: --store). */
export function addServeFlags(args: string[], extra: string[]): string[] {
  const at = args.indexOf('serve');
  return [...args.slice(0, at + 1), ...extra, ...args.slice(at + 1)];
}

export interface PluginProcess {
  child: ResultPromise;
  client: CsiClient;
  stderr(): string;
}

/**
 * Runs `nixmount …args` as the plugin's container would: in a mount namespace of its own
 * (`unshare --mount`, mounts copied with their propagation, so shared dirs stay shared).
 */
export async function startInOwnNamespace(t: ExecutionContext, args: string[], socket: string, env: Record<string, string> = {}, namespace: 'own' | 'host' = 'own'): Promise<PluginProcess> {
  const wrapper = namespace === 'own' ? ['unshare', '--mount', '--propagation', 'unchanged', '--', 'node'] : ['node'];
  const child = execa(wrapper[0]!, [...wrapper.slice(1), CLI, ...args], {
    env: { ...nixEnv, NIXMOUNT_LOG_LEVEL: 'info', ...env },
    reject: false,
    all: true,
  });
  let output = '';
  child.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const client = new CsiClient(socket);
  t.teardown(async () => {
    client.close();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await child;
    clearTimeout(timer);
  });
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break;
    if (await access(socket).then(() => true, () => false)) {
      try {
        if ((await client.call('identity', 'Probe', {}, 2000)).ready?.value) return { child, client, stderr: () => output };
      } catch {
        // not answering yet
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nixmount did not become ready (exit ${child.exitCode}): ${output}`);
}
