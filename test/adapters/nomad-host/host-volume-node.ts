import type { ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { mountOptionsAt, mountsBelow } from '../../helpers/mounts.js';
import type { Fixture } from '../../helpers/nix.js';
import { tempDir } from '../../helpers/temp.js';
import { CLI } from '../../helpers/serve-process.js';
import { NomadHostClient, type CreateRequest, type HostVolumeCall } from './nomad-host-client.js';

/** A Nomad client node with the nixmount host volume plugin installed, and what the tests assert on it. */

export interface Node {
  dir: string;
  stateDir: string;
  volumesDir: string;
  client: NomadHostClient;
  /** The store's physical root ('' for the node store). */
  storeRoot: string;
}

/**
 * A node as Nomad sees it: a plugin directory holding the wrapper that
 * `nixmount host-volume install` writes, the client's volumes directory, and the
 * node's /etc/nixmount/host-volume.json (here in the test dir, named to the wrapper).
 */
export async function node(t: ExecutionContext, config: Record<string, string> = {}, storeRoot = ''): Promise<Node> {
  const dir = await tempDir(t, 'nixmount-hostvol-');
  const stateDir = join(dir, 'state');
  const pluginDir = join(dir, 'host_volume_plugins');
  const volumesDir = join(dir, 'host_volumes');
  await mkdir(volumesDir);
  const configFile = join(dir, 'host-volume.json');
  // No view-idle: the plugin's default (0) lets a view go with its last volume, so "nothing left" is checkable at once.
  await writeFile(configFile, JSON.stringify({ 'state-dir': stateDir, substituters: '', ...config }));
  await execa('node', [CLI, 'host-volume', 'install', '--plugin-dir', pluginDir, '--config', configFile, '--lock-file', join(dir, 'plugin.lock')]);
  return { dir, stateDir, volumesDir, client: new NomadHostClient(join(pluginDir, 'nixmount'), pluginDir, volumesDir), storeRoot };
}

let counter = 0;
export function request(parameters: Record<string, string> | null, name = 'nix-hello-host'): CreateRequest {
  counter++;
  return { id: `0c0ffee0-${process.pid.toString(16).padStart(4, '0')}-4000-8000-${counter.toString(16).padStart(12, '0')}`, name, parameters };
}

export async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((name) => !name.startsWith('.')).sort();
}

export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

export function gcRootsDir(n: Node, canonicalState: string): string {
  return join(n.storeRoot || '/', 'nix/var/nix/gcroots/nixmount', createHash('sha256').update(canonicalState).digest('hex').slice(0, 16));
}

/** No mount, no directory, no record, no overlay, no view, no GC root: the node as before the create. */
export async function assertNothingLeft(t: ExecutionContext, n: Node): Promise<void> {
  t.deepEqual(await mountsBelow(n.dir), [], 'no mount');
  t.deepEqual(await entries(n.volumesDir), [], 'no volume directory');
  t.deepEqual(await entries(join(n.stateDir, 'volumes')), [], 'no record');
  t.deepEqual(await entries(join(n.stateDir, 'overlays')), [], 'no overlay');
  t.deepEqual(await entries(join(n.stateDir, 'views')), [], 'no view');
  if (await exists(n.stateDir)) t.deepEqual(await entries(gcRootsDir(n, await realpath(n.stateDir))), [], 'no GC root');
}

export function assertOk(t: ExecutionContext, call: HostVolumeCall): void {
  t.is(call.exitCode, 0, `${call.stdout}\n${call.stderr}`);
  t.is(call.nomadError, undefined);
}

/** A failed call as Nomad reports it: non-zero, one line of JSON `error` (shown to the user), the same line on stderr. */
export function assertFailed(t: ExecutionContext, call: HostVolumeCall, pattern: RegExp): void {
  t.false(call.killed, 'not killed at the deadline');
  t.not(call.exitCode, 0);
  t.is(call.stdout.trimEnd().split('\n').length, 1, call.stdout);
  const error = call.json?.error;
  t.is(typeof error, 'string');
  t.regex(error as string, pattern);
  t.false((error as string).includes('\n'));
  t.regex(call.nomadError!, pattern);
  const lastLine = call.stderr.trimEnd().split('\n').pop()!;
  t.is(lastLine, `nixmount host-volume create: ${error as string}`);
}

/**
 * The volumes' mount points below `dir`: a read-only volume of a bind-farm view is a tree
 * (its `store` directory and one mount per store path below it), counted once, at its root.
 */
export async function volumeMountsBelow(dir: string): Promise<string[]> {
  const points = await mountsBelow(dir);
  return points.filter((point) => !points.some((root) => point === `${root}/store` || point.startsWith(`${root}/store/`)));
}

export async function assertClosureAt(t: ExecutionContext, n: Node, path: string, fixture: Fixture): Promise<void> {
  t.deepEqual(await volumeMountsBelow(n.volumesDir), [path], 'one volume mount, at the created path');
  t.true((await mountOptionsAt(path))!.includes('ro'), 'mounted read-only');
  for (const storePath of fixture.closure) {
    t.true(await exists(join(path, 'store', storePath.slice('/nix/store/'.length))), storePath);
  }
  // The node store's own files (inodes), not copies.
  const data = fixture.closure.find((p) => p.includes('fixture-data'))!;
  const inVolume = await stat(join(path, 'store', data.slice('/nix/store/'.length), 'share/greeting'));
  const inStore = await stat(join(n.storeRoot, data, 'share/greeting'));
  t.is(inVolume.ino, inStore.ino);
  t.is(inVolume.dev, inStore.dev);
  t.is(await readFile(join(path, 'store', data.slice('/nix/store/'.length), 'share/greeting'), 'utf8'), await readFile(join(n.storeRoot, data, 'share/greeting'), 'utf8'));
  // Writes are refused by the mount itself, whatever a jobspec's read_only says.
  const write = await writeFile(join(path, 'x'), 'x').then(() => undefined, (e: NodeJS.ErrnoException) => e.code);
  t.is(write, 'EROFS');
  const mk = await mkdir(join(path, 'store', 'y')).then(() => undefined, (e: NodeJS.ErrnoException) => e.code);
  t.is(mk, 'EROFS');
}

