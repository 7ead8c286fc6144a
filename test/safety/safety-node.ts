import { status, type ServiceError } from '@grpc/grpc-js';
import { mkdir, readdir, readFile, realpath, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { MountNamespace } from '../helpers/crash-namespace.js';
import { ServeNode, type ServeNodeOptions } from '../helpers/crash-serve.js';
import { CrashWrappers } from '../helpers/crash-wrappers.js';
import { mountCapability } from '../helpers/csi-client.js';
import { buildFixture, type Fixture } from '../helpers/nix.js';
import { assertNodeClean, gcRootDirFor, killProcessesIn, gcRootDirForLiteral, type NodeCleanOptions, type NodeCleanReport } from '../helpers/node-clean.js';
import { tempDir } from '../helpers/temp.js';

export interface SafetyNode {
  dir: string;
  stateDir: string;
  ns: MountNamespace;
  serve: ServeNode;
  fixture: Fixture;
  wrappers?: CrashWrappers;
  /** Asserts the node clean (mounts read in the plugin's namespace, the running plugin allowed). */
  clean(t: ExecutionContext, options?: Partial<NodeCleanOptions>): Promise<NodeCleanReport>;
}

export interface SafetyNodeOptions extends Partial<Omit<ServeNodeOptions, 'dir' | 'ns' | 'pathPrefix'>> {
  wrappers?: boolean;
  /** Leave the plugin unstarted (the test launches it). */
  noStart?: boolean;
}

/**
 * A real `nixmount serve` process in a private mount namespace on a fresh temp dir, with the
 * fixture closure built. GC roots of its state dir (both keyings) are removed on teardown.
 */
export async function safetyNode(t: ExecutionContext, options: SafetyNodeOptions = {}): Promise<SafetyNode> {
  const fixture = await buildFixture();
  const dir = await tempDir(t, 'nixmount-safety-');
  // Runs before the dir is removed: an orphan a killed plugin left (finding 7) must not race the removal.
  t.teardown(() => killProcessesIn(dir));
  const stateDir = options.stateDir ?? join(dir, 'state');
  await mkdir(join(dir, 'state'), { recursive: true });
  const rootDirs = [await gcRootDirFor(join(dir, 'state')), gcRootDirForLiteral(stateDir)];
  t.teardown(async () => {
    for (const rootDir of rootDirs) await rm(rootDir, { recursive: true, force: true });
  });
  const ns = await MountNamespace.create(t);
  const wrappers = options.wrappers ? await CrashWrappers.create(dir, stateDir) : undefined;
  const serveOptions: ServeNodeOptions = { ...options, dir, stateDir, ns, ...(wrappers ? { pathPrefix: wrappers.binDir } : {}) };
  const serve = options.noStart ? ServeNode.create(t, serveOptions) : await ServeNode.start(t, serveOptions);
  return {
    dir,
    stateDir,
    ns,
    serve,
    fixture,
    ...(wrappers ? { wrappers } : {}),
    clean: (tt, extra = {}) =>
      assertNodeClean(tt, {
        stateDir,
        mountInfoFile: ns.mountInfoFile,
        allowPids: serve.pid !== undefined && serve.running ? [serve.pid] : [],
        ...extra,
      }),
  };
}

export interface Answer {
  code: number;
  details: string;
  ms: number;
}

/** Calls a node RPC and returns its status code (0 = OK) and message, never throwing. */
export async function answer(serve: ServeNode, method: string, request: unknown, deadlineMs = 120_000): Promise<Answer> {
  const started = Date.now();
  try {
    await serve.api.call('node', method, request, deadlineMs);
    return { code: status.OK, details: '', ms: Date.now() - started };
  } catch (error) {
    const e = error as ServiceError;
    return { code: e.code ?? -1, details: e.details ?? String(error), ms: Date.now() - started };
  }
}

export function publishRequest(volumeId: string, target: string, context: Record<string, string>, options: { readonly?: boolean; mode?: string; staging?: string } = {}) {
  return {
    volume_id: volumeId,
    target_path: target,
    staging_target_path: options.staging ?? '',
    volume_capability: mountCapability(options.mode ?? 'SINGLE_NODE_WRITER'),
    readonly: options.readonly ?? true,
    volume_context: context,
  };
}

export const codeName = (code: number): string => (code === 0 ? 'OK' : (status[code] ?? String(code)));

/** Record files (`*.json`) under <state>/<kind>. */
export async function recordFiles(stateDir: string, kind: 'volumes' | 'stages' = 'volumes'): Promise<string[]> {
  return (await readdir(join(stateDir, kind)).catch(() => [] as string[])).filter((name) => name.endsWith('.json')).sort();
}

export async function viewNames(stateDir: string): Promise<string[]> {
  return (await readdir(join(stateDir, 'views')).catch(() => [] as string[])).sort();
}

/** A file of the fixture's closure as the workload sees it through the mount at `target`. */
export function workloadFile(ns: MountNamespace, target: string, fixture: Fixture): string {
  return ns.view(join(target, 'store', basename(fixture.root), 'bin/hello'));
}

export async function readable(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    () => false,
  );
}

export async function canonicalStateDir(stateDir: string): Promise<string> {
  return realpath(stateDir);
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
