import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { adapterModuleProblems } from '../../adapters/module/check-adapter-module.js';
import { loadAdapterModule } from '../../adapters/module/load-adapter-module.js';
import type { ReplayStep } from '../replay.js';
import { KitFailure, type CheckResult, type ReplayOptions, type ReplayReport } from './kit-types.js';
import { CallFailed, startPlugin, type PluginProcess } from './plugin-process.js';

const run = promisify(execFile);

function capability(mode: string) {
  return { mount: { fs_type: '', mount_flags: [] }, access_mode: { mode } };
}

/** The CSI request of a step that is a call. */
function request(step: Exclude<ReplayStep, { kind: 'mkdir' | 'rmdir' }>): { service: 'identity' | 'node'; method: string; body: Record<string, unknown>; label: string } {
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
  }
}

/** Problems unless every store path of `closure` is visible at `<target>/store/<name>` on a mount at `target`. */
export async function closureProblems(plugin: PluginProcess, target: string, closure: readonly string[]): Promise<string[]> {
  const mounted = (await plugin.leftovers()).includes(`a mount at ${target}`);
  if (!mounted) return [`nothing is mounted at ${target}`];
  const missing: string[] = [];
  for (const path of closure) {
    if (!(await lstat(join(target, 'store', basename(path))).then(() => true, () => false))) missing.push(path);
  }
  return missing.length > 0 ? [`${target}/store lacks ${missing.join(', ')}`] : [];
}

/** The store paths of `storePath`'s closure, asked of nix-store. */
export async function closureOf(storePath: string, env?: Readonly<Record<string, string>>): Promise<string[]> {
  return (await run('nix-store', ['-qR', storePath], { env: { ...process.env, ...env } })).stdout.trim().split('\n');
}

/**
 * The end-to-end replay: a real `nixmount serve --adapter-module <module>` process, driven
 * over its unix socket with the calls and paths of the module's own replay, publishing the
 * closure of `options.closure`. Checks that every publish mounted the whole closure, that
 * the orchestrator could remove every directory it made, that no mount, record or view is
 * left, and that serve stops cleanly on SIGTERM. Throws a KitFailure naming what went
 * wrong; cleans up (kills serve, unmounts below its directory) in every case.
 */
export async function runReplay(specifier: string, options: ReplayOptions): Promise<ReplayReport> {
  const subject = `the replay of the adapter module ${JSON.stringify(specifier)}`;
  const module = await loadAdapterModule(specifier).catch((error: unknown) => {
    throw new KitFailure(subject, [{ name: 'replay: the module loads', problems: [error instanceof Error ? error.message : String(error)] }]);
  });
  if (adapterModuleProblems(module).length > 0 || module.replay === undefined) {
    throw new KitFailure(subject, [{ name: 'replay: the module loads', problems: ['the module has no replay (AdapterModule.replay)'] }]);
  }
  const replay = module.replay;
  const closure = await closureOf(options.closure, options.env);
  const failed: CheckResult[] = [];
  const problem = (name: string, problems: string[]) => {
    if (problems.length === 0) return;
    const index = failed.findIndex((check) => check.name === name);
    if (index < 0) failed.push({ name, problems });
    else failed[index] = { name, problems: [...failed[index]!.problems, ...problems] };
  };
  const calls: string[] = [];
  let published = 0;
  const root = options.dir ?? (await mkdtemp(join(tmpdir(), 'nixmount-kit-replay-')));
  const removeRoot = () => (options.dir === undefined ? rm(root, { recursive: true, force: true }) : Promise.resolve());
  const plugin = await startPlugin(specifier, { ...options, dir: root, adapterOptions: replay.options(root) }).catch(async (error: unknown) => {
    await removeRoot();
    throw error instanceof KitFailure ? new KitFailure(subject, error.failed) : error;
  });
  try {
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
      const call = request(step);
      calls.push(call.label);
      try {
        await plugin.call(call.service, call.method, call.body);
      } catch (error) {
        problem('replay: every call succeeds', [`${at}, ${call.label}: ${error instanceof CallFailed ? `${error.codeName}: ${error.details}` : String(error)}`]);
        break;
      }
      if (step.kind === 'publish') {
        const missing = await closureProblems(plugin, step.targetPath, closure);
        problem('replay: the closure is published', missing.map((text) => `${at}: ${text}`));
        if (missing.length === 0) published += 1;
      }
    }
    const paths = steps.flatMap((step) => (step.kind === 'publish' ? [step.targetPath] : step.kind === 'stage' ? [step.stagingPath] : []));
    problem('replay: nothing left', await plugin.leftovers(paths));
    problem('replay: serve stops', await plugin.stop());
    if (failed.length > 0) throw new KitFailure(subject, failed);
    return { calls, publishedPaths: published * closure.length };
  } catch (error) {
    if (error instanceof KitFailure) throw error;
    problem('replay: runs', [error instanceof Error ? error.message : String(error)]);
    throw new KitFailure(subject, failed);
  } finally {
    await plugin.close();
    await removeRoot();
  }
}
