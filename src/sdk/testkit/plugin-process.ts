import { execFile, spawn } from 'node:child_process';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import { CsiClient } from '../../csi/csi-client.js';
import { readMountInfo } from '../../platform/mountinfo.js';
import { KitFailure } from './kit-types.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../cli.js', import.meta.url));
const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(status).filter(([, value]) => typeof value === 'number').map(([name, value]) => [value, name]),
);

/** A CSI call that failed: its gRPC code's name and the plugin's message. */
export class CallFailed extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    readonly details: string,
  ) {
    super(`${method}: ${CODE_NAMES[code] ?? `code ${code}`}: ${details}`);
    this.name = 'CallFailed';
  }

  get codeName(): string {
    return CODE_NAMES[this.code] ?? String(this.code);
  }
}

export interface PluginOptions {
  /** An empty directory on the Nix store's file system (default: a new one in TMPDIR, removed by close()). */
  readonly dir?: string;
  readonly nodeId?: string;
  /** The adapter's options, as `--adapter-option NAME=VALUE`. */
  readonly adapterOptions?: Readonly<Record<string, string>>;
  /** More flags for serve (e.g. ['--mode', 'monolith']). */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cli?: string;
  readonly readyTimeoutMs?: number;
}

/** A running `nixmount serve --adapter-module …` and a CSI client on its socket, for orchestrator harnesses. */
export interface PluginProcess {
  /** The directory it works in: its socket and state dir are here. */
  readonly root: string;
  readonly stateDir: string;
  /** One CSI call; rejects with CallFailed. */
  call<T = any>(service: 'identity' | 'node' | 'controller', method: string, request?: unknown): Promise<T>;
  /** What is left: mounts at or below the root, volume records, views, and non-empty directories among `paths`. */
  leftovers(paths?: Iterable<string>): Promise<string[]>;
  /** SIGTERM and wait: problems if serve does not exit 0 or leaves its socket. */
  stop(): Promise<string[]>;
  /** Kills serve if it still runs, unmounts everything below the root, removes a root the kit made. Always call it. */
  close(): Promise<void>;
  /** serve's stderr so far. */
  stderr(): string;
}

async function mountsBelow(dir: string): Promise<string[]> {
  return (await readMountInfo()).map((entry) => entry.mountPoint).filter((point) => point === dir || point.startsWith(`${dir}/`));
}

/** Entries of `dir` that are not nixmount's own dot-files, or [] when it is absent. */
async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((name) => !name.startsWith('.'));
}

/**
 * Starts `nixmount serve --adapter-module <specifier>` (views removed at once, so that
 * "nothing left" can be checked) and waits until Probe answers ready. Throws a KitFailure
 * with serve's stderr if it never does, after cleaning up.
 */
export async function startPlugin(specifier: string, options: PluginOptions = {}): Promise<PluginProcess> {
  const root = options.dir ?? (await mkdtemp(join(tmpdir(), 'nixmount-kit-')));
  const socket = join(root, 'csi.sock');
  const stateDir = join(root, 'state');
  const pairs = Object.entries(options.adapterOptions ?? {}).flatMap(([key, value]) => ['--adapter-option', `${key}=${value}`]);
  const child = spawn(
    process.execPath,
    [
      options.cli ?? CLI, 'serve', '--adapter-module', specifier, ...pairs, '--endpoint', `unix://${socket}`, '--state-dir', stateDir,
      '--node-id', options.nodeId ?? 'kit-node', '--view-idle', '0', '--log-level', 'warn', ...(options.args ?? []),
    ],
    { env: { ...process.env, ...options.env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const client = new CsiClient(socket);
  const plugin: PluginProcess = {
    root,
    stateDir,
    stderr: () => stderr,
    async call(service, method, request = {}) {
      try {
        return await client.call(service, method, request);
      } catch (error) {
        const e = error as { code?: number; details?: string };
        throw new CallFailed(method, e.code ?? status.UNKNOWN, e.details ?? String(error));
      }
    },
    async leftovers(paths = []) {
      // The read-only bind serve keeps per view (`.mounting/<view>[-<flags>]`) and a bind farm's
      // per-path binds (inside the view and that kept bind) are part of their view, reported as the
      // view while the view exists; such a mount without its view is a leftover.
      const views = new Set(await entries(join(stateDir, 'views')));
      const viewOf = (point: string, below: string) => (point.startsWith(`${stateDir}/${below}/`) ? point.slice(stateDir.length + below.length + 2).split('/')[0]! : undefined);
      const keptBind = (point: string) => {
        const kept = viewOf(point, '.mounting');
        if (kept !== undefined) return views.has(kept.split('-')[0]!);
        const view = viewOf(point, 'views');
        return view !== undefined && views.has(view);
      };
      const left = [
        ...(await mountsBelow(root)).filter((point) => !keptBind(point)).map((point) => `a mount at ${point}`),
        ...(await entries(join(stateDir, 'volumes'))).map((name) => `the volume record ${join(stateDir, 'volumes', name)}`),
        ...(await entries(join(stateDir, 'views'))).map((name) => `the view ${join(stateDir, 'views', name)}`),
      ];
      for (const path of new Set(paths)) {
        const inside = await readdir(path).catch(() => [] as string[]);
        if (inside.length > 0) left.push(`${path} still holds ${inside.slice(0, 5).join(', ')}`);
      }
      return left;
    },
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      const socketLeft = await lstat(socket).then(() => true, () => false);
      return [
        ...(code === 0 ? [] : [`serve exited with ${code} on SIGTERM; its stderr:\n${stderr.trim()}`]),
        ...(socketLeft ? [`serve left its socket ${socket}`] : []),
      ];
    },
    async close() {
      client.close();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      for (let round = 0; round < 10; round++) {
        const points = await mountsBelow(root);
        if (points.length === 0) break;
        for (const point of points.reverse()) await run('umount', ['-l', point]).catch(() => undefined);
      }
      if (options.dir === undefined) await rm(root, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  while (child.exitCode === null && Date.now() < deadline) {
    const ready = await client.call('identity', 'Probe', {}, 1000).then((probe: { ready?: { value?: boolean } }) => probe.ready?.value !== false, () => false);
    if (ready) return plugin;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await plugin.close();
  throw new KitFailure(`nixmount serve --adapter-module ${JSON.stringify(specifier)}`, [
    { name: 'serve starts', problems: [`it did not answer Probe (${child.exitCode === null ? 'still running' : `exited with ${child.exitCode}`}); its stderr:\n${stderr.trim()}`] },
  ]);
}
