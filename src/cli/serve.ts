import { defaultProtectedDirs } from '../adapters/common/paths.js';
import { createAdapter } from '../adapters/registry.js';
import { physicalRoot } from '../platform/nix-settings.js';
import { RunningPlugin } from '../running-plugin.js';
import { createLogger } from '../platform/pino-logger.js';
import type { ServeValues } from '../settings/commands.js';
import { pluginSettings } from '../settings/plugin-settings.js';
import { UsageError } from '../settings/option.js';
import { NodeEvents } from '../core/ports/node-events.js';

const SHUTDOWN_GRACE_MS = 10_000;

export async function serve(values: ServeValues): Promise<void> {
  if (values.kubernetesEvents && values.orchestrator !== 'kubernetes') {
    throw new UsageError('--kubernetes-events needs --orchestrator kubernetes: Events are posted on the pods kubelet names');
  }
  const logger = createLogger({ level: values.logLevel ?? 'info' });
  const { settings, nix, sources } = pluginSettings(values);
  const adapter = createAdapter(values.orchestrator, {
    ...values,
    nodeId: settings.nodeId,
    protectedDirs: defaultProtectedDirs(settings.stateDir, physicalRoot(nix.storeUri)),
  });
  const plugin = await RunningPlugin.start({ settings, nix, sources, adapter, logger }, values.endpoint, values.mode);
  // Loaded only when asked for: a node without Events carries none of its code.
  const events = values.kubernetesEvents
    ? await (await import('../adapters/kubernetes/events/kubernetes-events.js')).startKubernetesEvents(plugin.container.get<NodeEvents>(NodeEvents), {
        nodeName: settings.nodeId,
        log: logger,
      })
    : undefined;
  logger.info({ mode: values.mode, driver: settings.driverName, node: settings.nodeId, orchestrator: adapter.name, stateDir: settings.stateDir }, 'nixmount serving');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    events?.stop();
    plugin.stop(SHUTDOWN_GRACE_MS).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
