import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { defaultProtectedDirs } from '../adapters/common/paths.js';
import { LocalAdapter } from '../adapters/local/local-adapter.js';
import { composeNode, type NodeServices } from '../composition-root.js';
import { physicalRoot } from '../platform/nix-settings.js';
import { createLogger } from '../platform/pino-logger.js';
import { canonicalStateDir, lockStateDir } from '../state-dir-lock.js';
import { defaultValues, optionsOf } from '../settings/command-line.js';
import type { GcValues, PublishValues, UnpublishValues } from '../settings/command-values.js';
import { UsageError } from '../settings/option.js';
import { PLUGIN_OPTIONS } from '../settings/plugin-options.js';
import { pluginSettings, type PipelineValues } from '../settings/plugin-settings.js';

/** Local volumes are named after their target, so publish and unpublish agree without bookkeeping. */
export function localVolumeId(target: string): string {
  return `local-${createHash('sha256').update(target).digest('hex').slice(0, 16)}`;
}

/** The options every local command takes (gc's store GC options are its own). */
type NodeValues = Omit<GcValues, 'storeGcHigh' | 'storeGcLow' | 'storeGcTimeout' | 'storePaths'>;

/** The pipeline settings of a local command: `values`, and publish's defaults for what they leave out (unpublish and gc take fewer options). */
export function localSettings(values: Partial<PipelineValues> & { refresh?: boolean }): ReturnType<typeof pluginSettings> {
  // Each command is a fresh process, so nixmount's own evaluation cache starts empty;
  // --refresh also makes Nix refetch unlocked flake inputs and tarballs.
  return pluginSettings({ ...(defaultValues(optionsOf('publish', PLUGIN_OPTIONS)) as PipelineValues), ...values }, values.refresh ?? false);
}

/** Runs `work` against this node's state dir with no server: lock, recover, work, unlock (also the host volume plugin's path). */
export async function withLocalNode<T>(
  values: NodeValues & Partial<PublishValues>,
  work: (node: NodeServices, adapter: LocalAdapter) => Promise<T>,
  overrides: { realiseWaitMs?: number } = {},
): Promise<T> {
  const given = localSettings(values);
  const settings = { ...given.settings, stateDir: await canonicalStateDir(given.settings.stateDir) };
  // A person at a shell waits for the work; there is no orchestrator retry to join it later.
  // (A caller with a deadline, the host volume plugin, bounds the wait instead.)
  const sources = { ...given.sources, realiseWaitMs: overrides.realiseWaitMs ?? 0 };
  const logger = createLogger({ level: values.logLevel ?? 'warn' });
  const unlock = await lockStateDir(settings.stateDir);
  try {
    const adapter = new LocalAdapter(settings.nodeId, { protectedDirs: defaultProtectedDirs(settings.stateDir, physicalRoot(given.nix.storeUri)) });
    const node = composeNode({ settings, nix: given.nix, sources, mounts: given.mounts, adapter, logger });
    await node.recovery.recover();
    return await work(node, adapter);
  } finally {
    await unlock();
  }
}

export async function publish(values: PublishValues): Promise<void> {
  const target = resolve(values.target);
  const context: Record<string, string> = {};
  if (values.paths) context.paths = values.paths;
  for (const pair of values.context) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--context: "${pair}" must be key=value`);
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  await withLocalNode(values, async (node, adapter) => {
    const targetPath = adapter.checkTargetPath(target);
    const readonly = !values.readWrite;
    const result = await node.volumesFor(adapter).publish({
      volumeId: values.volumeId ?? localVolumeId(targetPath),
      targetPath,
      readonly,
      accessMode: readonly ? 'single-node-reader-only' : 'single-node-writer',
      mountFlags: [],
      context,
    });
    const how = result.alreadyPublished ? 'was already published' : `published ${readonly ? 'read-only' : 'read-write'}`;
    console.log(`${target} ${how}: ${result.roots.join(' ')} (view ${result.viewKey}, ${result.viewBuilt ? 'built now' : 'reused'})`);
  });
}

export async function unpublish(values: UnpublishValues): Promise<void> {
  const target = resolve(values.target);
  await withLocalNode(values, async (node, adapter) => {
    const targetPath = adapter.checkTargetPath(target);
    const { wasPublished } = await node.volumesFor(adapter).unpublish(values.volumeId ?? localVolumeId(targetPath), targetPath);
    console.log(wasPublished ? `${target} unpublished` : `${target} was not published; nothing to do`);
  });
}

export async function gc(values: GcValues): Promise<number | void> {
  if (values.storePaths) return (await import('./store-gc.js')).gcStore(values);
  await withLocalNode(values, async (node) => {
    const removed = await node.views.collect(0);
    console.log(removed.length === 0 ? 'no unused views' : `removed ${removed.length} unused view(s): ${removed.join(' ')}`);
  });
}
