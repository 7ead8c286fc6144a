import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultProtectedDirs } from '../adapters/common/paths.js';
import { LocalAdapter } from '../adapters/local/local-adapter.js';
import { createContainer } from '../composition-root.js';
import { NodeRecovery } from '../core/node-recovery.js';
import { ViewManager } from '../core/view-manager.js';
import { VolumePublisher } from '../core/volume-publisher.js';
import { physicalRoot } from '../platform/nix-settings.js';
import { createLogger } from '../platform/pino-logger.js';
import { canonicalStateDir, lockStateDir } from '../state-dir-lock.js';
import { nixSettings, nodeOptions, nodeSettings, type NodeOptionValues } from './options.js';
import { sourceNixSettings, sourceOptions, sourceSettings, type SourceOptionValues } from './source-options.js';

/** Local volumes are named after their target, so publish and unpublish agree without bookkeeping. */
export function localVolumeId(target: string): string {
  return `local-${createHash('sha256').update(target).digest('hex').slice(0, 16)}`;
}

async function withLocalNode<T>(
  values: NodeOptionValues & SourceOptionValues & { refresh?: boolean },
  work: (container: ReturnType<typeof createContainer>) => Promise<T>,
): Promise<T> {
  const given = nodeSettings(values);
  const settings = { ...given, stateDir: await canonicalStateDir(given.stateDir) };
  // A person at a shell waits for the work; there is no orchestrator retry to join it later.
  const sources = { ...sourceSettings(values), realiseWaitMs: 0 };
  // Each command is a fresh process, so nixmount's own evaluation cache starts empty;
  // --refresh also makes Nix refetch unlocked flake inputs and tarballs.
  const nix = { ...nixSettings(values), ...sourceNixSettings(values, sources, values.refresh ?? false) };
  const logger = createLogger({ level: values['log-level'] ?? 'warn' });
  const unlock = await lockStateDir(settings.stateDir);
  try {
    const container = createContainer({ settings, nix, sources, adapter: new LocalAdapter(settings.nodeId, { protectedDirs: defaultProtectedDirs(settings.stateDir, physicalRoot(nix.storeUri)) }), logger });
    await container.get(NodeRecovery).recover();
    return await work(container);
  } finally {
    await unlock();
  }
}

export async function publish(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...nodeOptions,
      ...sourceOptions,
      target: { type: 'string' },
      paths: { type: 'string' },
      context: { type: 'string', multiple: true },
      'read-write': { type: 'boolean' },
      'volume-id': { type: 'string' },
      refresh: { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.target) throw new Error('--target is required');
  const target = resolve(values.target);
  const context: Record<string, string> = {};
  if (values.paths) context.paths = values.paths;
  for (const pair of values.context ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--context "${pair}" must be key=value`);
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  await withLocalNode(values, async (container) => {
    const adapter = new LocalAdapter('local', { protectedDirs: defaultProtectedDirs(nodeSettings(values).stateDir, physicalRoot(nixSettings(values).storeUri)) });
    adapter.checkTargetPath(target);
    const parsed = adapter.parseVolumeContext(context);
    const readonly = !values['read-write'];
    const result = await container.get(VolumePublisher).publish({
      volumeId: values['volume-id'] ?? localVolumeId(target),
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

export async function unpublish(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { ...nodeOptions, target: { type: 'string' }, 'volume-id': { type: 'string' } }, strict: true });
  if (!values.target) throw new Error('--target is required');
  const target = resolve(values.target);
  await withLocalNode(values, async (container) => {
    const { wasPublished } = await container.get(VolumePublisher).unpublish(values['volume-id'] ?? localVolumeId(target), target);
    console.log(wasPublished ? `${target} unpublished` : `${target} was not published; nothing to do`);
  });
}

export async function gc(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: nodeOptions, strict: true });
  await withLocalNode(values, async (container) => {
    const removed = await container.get(ViewManager).collect(0);
    console.log(removed.length === 0 ? 'no unused views' : `removed ${removed.length} unused view(s): ${removed.join(' ')}`);
  });
}
