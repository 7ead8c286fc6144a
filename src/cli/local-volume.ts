import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { LocalAdapter } from '../adapters/local/local-adapter.js';
import { createContainer } from '../composition-root.js';
import { NodeRecovery } from '../core/node-recovery.js';
import { ViewManager } from '../core/view-manager.js';
import { VolumePublisher } from '../core/volume-publisher.js';
import { createLogger } from '../platform/pino-logger.js';
import { canonicalStateDir, lockStateDir } from '../state-dir-lock.js';
import { defaultValues, optionsOf } from '../settings/command-line.js';
import type { GcValues, PublishValues, UnpublishValues } from '../settings/commands.js';
import { UsageError } from '../settings/option.js';
import { PLUGIN_OPTIONS } from '../settings/plugin-options.js';
import { pluginSettings, type PipelineValues } from '../settings/plugin-settings.js';

/** Local volumes are named after their target, so publish and unpublish agree without bookkeeping. */
export function localVolumeId(target: string): string {
  return `local-${createHash('sha256').update(target).digest('hex').slice(0, 16)}`;
}

async function withLocalNode<T>(
  values: GcValues & Partial<PublishValues>,
  work: (container: ReturnType<typeof createContainer>) => Promise<T>,
): Promise<T> {
  // unpublish and gc take fewer options than publish; the others keep their defaults.
  const all = { ...(defaultValues(optionsOf('publish', PLUGIN_OPTIONS)) as PipelineValues), ...values };
  // Each command is a fresh process, so nixmount's own evaluation cache starts empty;
  // --refresh also makes Nix refetch unlocked flake inputs and tarballs.
  const given = pluginSettings(all, values.refresh ?? false);
  const settings = { ...given.settings, stateDir: await canonicalStateDir(given.settings.stateDir) };
  // A person at a shell waits for the work; there is no orchestrator retry to join it later.
  const sources = { ...given.sources, realiseWaitMs: 0 };
  const logger = createLogger({ level: values.logLevel ?? 'warn' });
  const unlock = await lockStateDir(settings.stateDir);
  try {
    const container = createContainer({ settings, nix: given.nix, sources, adapter: new LocalAdapter(settings.nodeId), logger });
    await container.get(NodeRecovery).recover();
    return await work(container);
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
  await withLocalNode(values, async (container) => {
    const adapter = new LocalAdapter('local');
    adapter.checkTargetPath(target);
    const parsed = adapter.parseVolumeContext(context);
    const readonly = !values.readWrite;
    const result = await container.get(VolumePublisher).publish({
      volumeId: values.volumeId ?? localVolumeId(target),
      targetPath: target,
      readonly,
      accessMode: readonly ? 'single-node-reader-only' : 'single-node-writer',
      mountFlags: [],
      spec: parsed.spec,
      ephemeral: false,
    });
    const how = result.alreadyPublished ? 'was already published' : `published ${readonly ? 'read-only' : 'read-write'}`;
    console.log(`${target} ${how}: ${result.roots.join(' ')} (view ${result.viewKey}, ${result.viewBuilt ? 'built now' : 'reused'})`);
  });
}

export async function unpublish(values: UnpublishValues): Promise<void> {
  const target = resolve(values.target);
  await withLocalNode(values, async (container) => {
    const { wasPublished } = await container.get(VolumePublisher).unpublish(values.volumeId ?? localVolumeId(target), target);
    console.log(wasPublished ? `${target} unpublished` : `${target} was not published; nothing to do`);
  });
}

export async function gc(values: GcValues): Promise<void> {
  await withLocalNode(values, async (container) => {
    const removed = await container.get(ViewManager).collect(0);
    console.log(removed.length === 0 ? 'no unused views' : `removed ${removed.length} unused view(s): ${removed.join(' ')}`);
  });
}
