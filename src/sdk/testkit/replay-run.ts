import { execFile, spawn } from 'node:child_process';
import { lstat, mkdtemp, readdir, rm, rmdir, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import { adapterModuleProblems } from '../../adapters/module/check-adapter-module.js';
import { loadAdapterModule } from '../../adapters/module/load-adapter-module.js';
import { CsiClient } from '../../csi/csi-client.js';
import { readMountInfo } from '../../platform/mountinfo.js';
import type { AdapterModule } from '../adapter-module.js';
import type { ReplayStep } from '../replay.js';
import { KitFailure, type CheckResult, type ReplayOptions, type ReplayReport } from './kit-types.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../cli.js', import.meta.url));
const CODE_NAMES = Object.fromEntries(Object.entries(status).filter(([, value]) => typeof value === 'number').map(([name, value]) => [value, name]));

async function mountsBelow(dir: string): Promise<string[]> {
  return (await readMountInfo()).map((entry) => entry.mountPoint).filter((point) => point === dir || point.startsWith(`${dir}/`));
}

async function unmountBelow(dir: string): Promise<void> {
  for (let round = 0; round < 10; round++) {
    const points = await mountsBelow(dir);
    if (points.length === 0) return;
    for (const point of points.reverse()) await run('umount', ['-l', point]).catch(() => undefined);
  }
}

/** Entries of `dir` that are not nixmount's own dot-files (temporary files, locks), or [] when it is absent. */
async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((name) => !name.startsWith('.'));
}

function capability(mode: string) {
  return { mount: { fs_type: '', mount_flags: [] }, access_mode: { mode } };
}

/** The CSI request of one step, or undefined for the orchestrator's own directory work. */
function request(step: ReplayStep): { service: 'identity' | 'node'; method: string; body: Record<string, unknown>; label: string } | undefined {
  switch (step.kind) {
    case 'call':
      return { service: step.method.startsWith('Node') ? 'node' : 'identity', method: step.method, body: {}, label: step.method };
    case 'stage':
      return {
        service: 'node', method: 'NodeStageVolume', label: `NodeStageVolume ${step.stagingPath}`,
        body: { volume_id: step.volumeId, staging_target_path: step.stagingPath, volume_capability: capability(step.accessMode), volume_context: step.volumeContext, publish_context: {}, secrets: {} },
      };
    case 'publish':
      return {
        service: 'node', method: 'NodePublishVolume', label: `NodePublishVolume ${step.targetPath}`,
        body: {
          volume_id: step.volumeId, target_path: step.targetPath, staging_target_path: step.stagingPath ?? '', volume_capability: capability(step.accessMode),
          readonly: step.readonly, volume_context: step.volumeContext, publish_context: {}, secrets: {},
        },
      };
    case 'unpublish':
      return { service: 'node', method: 'NodeUnpublishVolume', label: `NodeUnpublishVolume ${step.targetPath}`, body: { volume_id: step.volumeId, target_path: step.targetPath } };
    case 'unstage':
      return { service: 'node', method: 'NodeUnstageVolume', label: `NodeUnstageVolume ${step.stagingPath}`, body: { volume_id: step.volumeId, staging_target_path: step.stagingPath } };
    default:
      return undefined;
  }
}

/**
 * The end-to-end replay: a real `nixmount serve --adapter-module <module>` process, driven
 * over its unix socket with the calls and paths of the module's own replay, publishing the
 * closure of `options.closure`. Checks that every publish mounted the whole closure, that
 * the orchestrator could remove every directory it made, that no mount, record or view is
 * left, and that serve stops cleanly on SIGTERM. Throws a KitFailure naming what went
 * wrong (with serve's stderr); cleans up (kills serve, unmounts below its directory) in
 * every case.
 */
export async function runReplay(specifier: string, options: ReplayOptions): Promise<ReplayReport> {
  const subject = `the replay of the adapter module ${JSON.stringify(specifier)}`;
  const module = await loadAdapterModule(specifier).catch((error: unknown) => {
    throw new KitFailure(subject, [{ name: 'replay: the module loads', problems: [error instanceof Error ? error.message : String(error)] }]);
  });
  if (adapterModuleProblems(module).length > 0 || module.replay === undefined) {
    throw new KitFailure(subject, [{ name: 'replay: the module loads', problems: ['the module has no replay (AdapterModule.replay)'] }]);
  }
  const replay = (module as AdapterModule).replay!;
  const env = { ...process.env, ...options.env };
  const closure = (await run('nix-store', ['-qR', options.closure], { env })).stdout.trim().split('\n');
  const root = options.dir ?? (await mkdtemp(join(tmpdir(), 'nixmount-kit-replay-')));
  const socket = join(root, 'csi.sock');
  const stateDir = join(root, 'state');
  const nodeId = options.nodeId ?? 'kit-node';
  const failed: CheckResult[] = [];
  const calls: string[] = [];
  let stderr = '';
  let published = 0;
  const pairs = Object.entries(replay.options(root)).flatMap(([key, value]) => ['--adapter-option', `${key}=${value}`]);
  const child = spawn(
    process.execPath,
    [options.cli ?? CLI, 'serve', '--adapter-module', specifier, ...pairs, '--endpoint', `unix://${socket}`, '--state-dir', stateDir, '--node-id', nodeId, '--view-idle', '0', '--log-level', 'warn'],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const client = new CsiClient(socket);
  const problem = (name: string, problems: string[]) => {
    if (problems.length === 0) return;
    const index = failed.findIndex((check) => check.name === name);
    if (index < 0) failed.push({ name, problems });
    else failed[index] = { name, problems: [...failed[index]!.problems, ...problems] };
  };
  try {
    const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
    let ready = false;
    while (!ready && child.exitCode === null && Date.now() < deadline) {
      ready = await client.call('identity', 'Probe', {}, 1000).then((probe: { ready?: { value?: boolean } }) => probe.ready?.value !== false, () => false);
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!ready) {
      problem('replay: serve starts', [`nixmount serve did not answer Probe (${child.exitCode === null ? 'still running' : `exited with ${child.exitCode}`}); its stderr:\n${stderr.trim()}`]);
      throw new KitFailure(subject, failed);
    }

    const steps = replay.steps(root, { volumeId: 'kit-volume', userContext: { paths: options.closure } });
    for (const [index, step] of steps.entries()) {
      const at = `step ${index + 1} of ${steps.length}`;
      if (step.kind === 'mkdir') {
        await mkdir(step.path, { recursive: true });
        continue;
      }
      if (step.kind === 'rmdir') {
        const removed = await rmdir(step.path).then(() => '', (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? '' : error.code ?? String(error)));
        if (removed !== '') problem('replay: nothing left', [`${at}: the orchestrator could not remove ${step.path} (${removed}): something was left in or on it`]);
        continue;
      }
      const call = request(step)!;
      calls.push(call.label);
      try {
        await client.call(call.service, call.method, call.body);
      } catch (error) {
        const e = error as { code?: number; details?: string };
        problem('replay: every call succeeds', [`${at}, ${call.label}: ${CODE_NAMES[e.code ?? -1] ?? 'error'}: ${e.details ?? String(error)}`]);
        break;
      }
      if (step.kind === 'publish') {
        const mounted = (await mountsBelow(step.targetPath)).includes(step.targetPath);
        const missing: string[] = [];
        for (const path of closure) {
          if (!(await lstat(join(step.targetPath, 'store', basename(path))).then(() => true, () => false))) missing.push(path);
        }
        if (!mounted) problem('replay: the closure is published', [`${at}: nothing is mounted at ${step.targetPath}`]);
        else if (missing.length > 0) problem('replay: the closure is published', [`${at}: ${step.targetPath}/store lacks ${missing.join(', ')}`]);
        else published += 1;
      }
    }

    const targets = steps.flatMap((step) => (step.kind === 'publish' ? [step.targetPath] : step.kind === 'stage' ? [step.stagingPath] : []));
    const left = [
      ...(await mountsBelow(root)).map((point) => `a mount at ${point}`),
      ...(await entries(join(stateDir, 'volumes'))).map((name) => `the volume record ${join(stateDir, 'volumes', name)}`),
      ...(await entries(join(stateDir, 'views'))).map((name) => `the view ${join(stateDir, 'views', name)}`),
    ];
    for (const path of new Set(targets)) {
      const inside = await readdir(path).catch(() => [] as string[]);
      if (inside.length > 0) left.push(`${path} still holds ${inside.slice(0, 5).join(', ')}`);
    }
    problem('replay: nothing left', left);

    child.kill('SIGTERM');
    const code = await exited;
    const socketLeft = await lstat(socket).then(() => true, () => false);
    problem('replay: serve stops', [
      ...(code === 0 ? [] : [`serve exited with ${code} on SIGTERM; its stderr:\n${stderr.trim()}`]),
      ...(socketLeft ? [`serve left its socket ${socket}`] : []),
    ]);
    if (failed.length > 0) throw new KitFailure(subject, failed);
    return { calls, publishedPaths: published * closure.length };
  } catch (error) {
    if (error instanceof KitFailure) throw error;
    failed.push({ name: 'replay: runs', problems: [error instanceof Error ? error.message : String(error)] });
    throw new KitFailure(subject, failed);
  } finally {
    client.close();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await unmountBelow(root);
    if (options.dir === undefined) await rm(root, { recursive: true, force: true });
  }
}
