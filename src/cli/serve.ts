import { defaultProtectedDirs } from '../adapters/common/paths.js';
import { createAdapter } from '../adapters/registry.js';
import { physicalRoot } from '../platform/nix-settings.js';
import { RunningPlugin } from '../running-plugin.js';
import { createLogger } from '../platform/pino-logger.js';
import type { ServeValues } from '../settings/commands.js';
import { parseListenAddress } from '../settings/listen-address.js';
import { pluginSettings, storeGcSettings } from '../settings/plugin-settings.js';

const SHUTDOWN_GRACE_MS = 10_000;

export async function serve(values: ServeValues): Promise<void> {
  const logger = createLogger({ level: values.logLevel ?? 'info' });
  const { settings, nix, sources } = pluginSettings(values);
  const storeGc = storeGcSettings(values);
  const adapter = createAdapter(values.orchestrator, {
    ...values,
    nodeId: settings.nodeId,
    protectedDirs: defaultProtectedDirs(settings.stateDir, physicalRoot(nix.storeUri)),
  });
  const metricsAddress = values.metricsAddress ? parseListenAddress(values.metricsAddress) : undefined;
  const plugin = await RunningPlugin.start({ settings, nix, sources, storeGc, adapter, logger }, values.endpoint, values.mode, metricsAddress);
  logger.info({ mode: values.mode, driver: settings.driverName, node: settings.nodeId, orchestrator: adapter.name, stateDir: settings.stateDir, metrics: plugin.metrics?.url }, 'nixmount serving');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
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
