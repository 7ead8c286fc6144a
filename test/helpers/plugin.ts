import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { defaultProtectedDirs } from '../../src/adapters/common/paths.js';
import { LocalAdapter } from '../../src/adapters/local/local-adapter.js';
import type { OrchestratorAdapter } from '../../src/core/orchestrator-adapter.js';
import type { Logger } from '../../src/core/ports/logger.js';
import type { NodeSettings } from '../../src/core/settings.js';
import { DEFAULT_SOURCE_SETTINGS, type SourcePolicy, type SourceSettings } from '../../src/core/source-settings.js';
import type { StoreGcSettings } from '../../src/core/store-watermarks.js';
import { RunningPlugin } from '../../src/running-plugin.js';
import type { NixCliStore } from '../../src/platform/nix-cli-store.js';
import type { PluginMode } from '../../src/plugin-services.js';
import { physicalRoot, type NixSettings } from '../../src/platform/nix-settings.js';
import { createLogger } from '../../src/platform/pino-logger.js';
import { CsiClient } from './csi-client.js';
import { FIXTURES_DIR } from './nix.js';
import { tempDir } from './temp.js';

export interface TestPluginOptions {
  adapter?: OrchestratorAdapter;
  stateDir?: string;
  settings?: Partial<NodeSettings>;
  nix?: Partial<NixSettings>;
  /** Which services run; node (the default), controller or monolith. */
  mode?: PluginMode;
  /** Source policy and realisation timings; unset fields keep the production defaults (store paths only). */
  sources?: Partial<Omit<SourceSettings, 'policy'>> & { policy?: Partial<SourcePolicy> };
  /** Store GC watermarks (off when absent, as in production). */
  storeGc?: StoreGcSettings;
  /** Where the plugin logs (e.g. a recording logger); silent unless NIXMOUNT_TEST_LOG is set. */
  logger?: Logger;
}

export interface TestPlugin {
  plugin: RunningPlugin;
  client: CsiClient;
  dir: string;
  stateDir: string;
  socketPath: string;
  /** Stops the plugin (as a restart would) and starts a new one on the same state dir and socket. */
  restart(): Promise<TestPlugin>;
  stop(): Promise<void>;
}

/**
 * A real nixmount node plugin on a temporary unix socket, with a real gRPC client.
 * Everything it mounted is unmounted and its directories removed after the test.
 */
export async function startTestPlugin(t: ExecutionContext, options: TestPluginOptions = {}): Promise<TestPlugin> {
  const dir = await tempDir(t);
  return launch(t, dir, options);
}

async function launch(t: ExecutionContext, dir: string, options: TestPluginOptions): Promise<TestPlugin> {
  const stateDir = options.stateDir ?? join(dir, 'state');
  const settings: NodeSettings = {
    driverName: 'nixmount.test',
    driverVersion: '0.0.0-test',
    nodeId: 'test-node',
    stateDir,
    viewIdleMs: 0,
    // The suites on this helper are written against hardlink views (one mount per target, the
    // views' link counts); bind farms, serve's default for read-only volumes, are tested through
    // serve processes (test/platform/bind-farm-views.test.ts, the safety and NixOS suites).
    viewMode: 'hardlink',
    ...options.settings,
  };
  // Expressions are evaluated in restricted mode: the tests' fixtures are readable as a node's
  // --nix-path entries would be.
  const nix: NixSettings = { storeUri: '', substituters: [], connectTimeoutSec: 2, nixPath: FIXTURES_DIR, ...options.nix };
  const sources: SourceSettings = {
    ...DEFAULT_SOURCE_SETTINGS,
    ...options.sources,
    policy: { ...DEFAULT_SOURCE_SETTINGS.policy, ...options.sources?.policy },
  };
  const logger = options.logger ?? createLogger({ level: process.env.NIXMOUNT_TEST_LOG ?? 'silent' });
  const plugin = await RunningPlugin.start(
    {
      settings,
      nix,
      sources,
      storeGc: options.storeGc,
      // As `nixmount serve` builds it: the state dir, /nix and the store are never targets.
      adapter: options.adapter ?? new LocalAdapter(settings.nodeId, { protectedDirs: defaultProtectedDirs(stateDir, physicalRoot(nix.storeUri)) }),
      logger,
    },
    `unix://${join(dir, 'csi.sock')}`,
    options.mode,
  );
  const client = new CsiClient(plugin.socketPath);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    client.close();
    await plugin.stop(2000);
  };
  // Registered before `stop`, so it runs after it (teardowns run last-in, first-out): the state dir
  // is about to be deleted, so the GC roots its views held in the node store must go too.
  t.teardown(() => rm((plugin.services.nix as NixCliStore).gcRootDir(), { recursive: true, force: true }));
  t.teardown(stop);
  return {
    plugin,
    client,
    dir,
    stateDir,
    socketPath: plugin.socketPath,
    stop,
    restart: async () => {
      await stop();
      return launch(t, dir, { ...options, stateDir });
    },
  };
}
