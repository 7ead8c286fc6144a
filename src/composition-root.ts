import 'reflect-metadata';
import { Container } from 'inversify';
import { coreModule } from './core/core-module.js';
import type { OrchestratorAdapter } from './core/orchestrator-adapter.js';
import { Logger } from './core/ports/logger.js';
import { NodeSettings } from './core/settings.js';
import { DEFAULT_SOURCE_SETTINGS, SourceSettings } from './core/source-settings.js';
import { STORE_GC_OFF, StoreGcSettings } from './core/store-watermarks.js';
import { MountHelperSettings } from './platform/mount-helper.js';
import { NixSettings } from './platform/nix-settings.js';
import { platformModule } from './platform/platform-module.js';

export interface PluginConfig {
  settings: NodeSettings;
  nix: NixSettings;
  adapter: OrchestratorAdapter;
  logger: Logger;
  /** Source policy and realisation behaviour; the defaults accept store paths only. */
  sources?: SourceSettings;
  /** Store GC watermarks; off when absent. */
  storeGc?: StoreGcSettings;
  /** How binds and unmounts are made; the mount helper where the node can run it when absent. */
  mounts?: MountHelperSettings;
}

/** The one place real implementations are bound. */
export function createContainer(config: PluginConfig): Container {
  const container = new Container();
  container.bind(NodeSettings).toConstantValue(config.settings);
  container.bind(NixSettings).toConstantValue(config.nix);
  container.bind(SourceSettings).toConstantValue(config.sources ?? DEFAULT_SOURCE_SETTINGS);
  container.bind(StoreGcSettings).toConstantValue(config.storeGc ?? STORE_GC_OFF);
  container.bind(MountHelperSettings).toConstantValue(config.mounts ?? { helper: 'auto' });
  container.bind(Logger).toConstantValue(config.logger);
  container.load(coreModule, platformModule);
  return container;
}
