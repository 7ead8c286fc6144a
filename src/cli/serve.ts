import { defaultProtectedDirs } from '../adapters/common/paths.js';
import { chosenAdapter, createAdapterFrom } from '../adapters/registry.js';
import { physicalRoot } from '../platform/nix-settings.js';
import { RunningPlugin } from '../running-plugin.js';
import { createLogger } from '../platform/pino-logger.js';
import type { ServeValues } from '../settings/command-values.js';
import { parseListenAddress } from '../settings/listen-address.js';
import { pluginSettings, storeGcSettings } from '../settings/plugin-settings.js';
import { UsageError } from '../settings/option.js';

const SHUTDOWN_GRACE_MS = 10_000;

export async function serve(values: ServeValues): Promise<void> {
  if (values.kubernetesEvents && values.orchestrator !== 'kubernetes') {
    throw new UsageError('--kubernetes-events needs --orchestrator kubernetes: Events are posted on the pods kubelet names');
  }
  const logger = createLogger({ level: values.logLevel ?? 'info' });
  const { settings, nix, sources, mounts } = pluginSettings(values);
  const storeGc = storeGcSettings(values);
  // One path for every adapter: a module (built in, or loaded from --adapter-module) and its declared options.
  const { module, given } = await chosenAdapter(values);
  const adapter = createAdapterFrom(module, { nodeId: settings.nodeId, protectedDirs: defaultProtectedDirs(settings.stateDir, physicalRoot(nix.storeUri)) }, given);
  const metricsAddress = values.metricsAddress ? parseListenAddress(values.metricsAddress) : undefined;
  const plugin = await RunningPlugin.start({ settings, nix, sources, storeGc, mounts, adapter, logger }, values.endpoint, values.mode, metricsAddress);
  // Loaded only when asked for: a node without Events carries none of its code.
  const events = values.kubernetesEvents
    ? await (await import('../adapters/kubernetes/events/kubernetes-events.js')).startKubernetesEvents(plugin.services.events, {
        nodeName: settings.nodeId,
        log: logger,
      })
    : undefined;
  logger.info(
    {
      mode: values.mode, driver: settings.driverName, node: settings.nodeId, orchestrator: adapter.name,
      ...(values.adapterModule ? { adapterModule: values.adapterModule } : {}), stateDir: settings.stateDir, metrics: plugin.metrics?.url,
    },
    'nixmount serving',
  );

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
