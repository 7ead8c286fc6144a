import { collectDefaultMetrics, Registry } from 'prom-client';
import type { NodeServices, PluginConfig } from './composition-root.js';
import { eventMetrics } from './platform/metrics/event-metrics.js';
import { MetricsServer } from './platform/metrics/metrics-server.js';
import { registerNodeGauges, type NodeReadings } from './platform/metrics/node-gauges.js';
import { NodeMetrics, registerBuildInfo } from './platform/metrics/node-metrics.js';
import { runsNode, type PluginMode } from './plugin-services.js';
import type { ListenAddress } from './settings/listen-address.js';

export interface PluginMetrics {
  url: string;
  stop(): Promise<void>;
}

/** What the node gauges read, from the plugin's own services (records and views as the core keeps them). */
function nodeReadings(node: NodeServices, orchestrator: string): NodeReadings {
  const { volumes, stages, viewStore, views: viewManager, realisations: tracker } = node;
  return {
    orchestrator,
    volumes: () => volumes.list(),
    stagedVolumes: () => stages.list().length,
    views: async () => (await viewStore.list()).map((key) => ({ inUse: viewManager.isHeld(key) })),
    realisationPhases: () => tracker.phasesInFlight(),
    storeDir: node.nix.physicalPath('/nix/store'),
  };
}

/**
 * Prometheus metrics of a running plugin on `address`: events counted as they happen,
 * the node's volumes, views and store read at each scrape, and Node's process metrics.
 * Loaded only when --metrics-address is set, so prom-client costs nothing otherwise.
 */
export async function startPluginMetrics(node: NodeServices, config: PluginConfig, mode: PluginMode, address: ListenAddress): Promise<PluginMetrics> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const orchestrator = config.adapter.name;
  registerBuildInfo(registry, { version: config.settings.driverVersion, driver: config.settings.driverName, orchestrator, mode });
  if (runsNode(mode)) registerNodeGauges(registry, nodeReadings(node, orchestrator), config.logger);
  const unsubscribe = node.events.subscribe(eventMetrics(new NodeMetrics(registry)));
  try {
    const server = await MetricsServer.start(registry, address, config.logger);
    return {
      url: server.url,
      stop: async () => {
        unsubscribe();
        await server.stop();
      },
    };
  } catch (error) {
    unsubscribe();
    throw error;
  }
}
