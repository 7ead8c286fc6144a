import { parseArgs } from 'node:util';
import { defaultProtectedDirs } from '../adapters/common/paths.js';
import { createAdapter } from '../adapters/registry.js';
import { RunningPlugin } from '../running-plugin.js';
import { parsePluginMode } from '../plugin-services.js';
import { physicalRoot } from '../platform/nix-settings.js';
import { createLogger } from '../platform/pino-logger.js';
import { nixSettings, nodeOptions, nodeSettings } from './options.js';
import { sourceNixSettings, sourceOptions, sourceSettings } from './source-options.js';

const SHUTDOWN_GRACE_MS = 10_000;

export async function serve(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...nodeOptions,
      ...sourceOptions,
      endpoint: { type: 'string' },
      orchestrator: { type: 'string' },
      'kubelet-dir': { type: 'string' },
      'stage-publish-base-dir': { type: 'string' },
      mode: { type: 'string' },
    },
    strict: true,
  });
  const logger = createLogger({ level: values['log-level'] });
  const settings = nodeSettings(values);
  const mode = parsePluginMode(values.mode ?? process.env.NIXMOUNT_MODE ?? 'node');
  const endpoint = values.endpoint ?? process.env.CSI_ENDPOINT ?? 'unix:///csi/csi.sock';
  const sources = sourceSettings(values);
  const nix = { ...nixSettings(values), ...sourceNixSettings(values, sources) };
  const adapter = createAdapter(values.orchestrator ?? process.env.NIXMOUNT_ORCHESTRATOR ?? 'local', {
    nodeId: settings.nodeId,
    flags: values,
    protectedDirs: defaultProtectedDirs(settings.stateDir, physicalRoot(nix.storeUri)),
  });
  const plugin = await RunningPlugin.start({ settings, nix, sources, adapter, logger }, endpoint, mode);
  logger.info({ mode, driver: settings.driverName, node: settings.nodeId, orchestrator: adapter.name, stateDir: settings.stateDir }, 'nixmount serving');

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
