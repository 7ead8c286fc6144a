import { startHostVolumeService } from './adapters/nomad-host/host-volume-service.js';
import type { HostVolumeListener } from './adapters/nomad-host/host-volume-socket.js';
import { composeNode, type NodeServices, type PluginConfig } from './composition-root.js';
import type { StoreGarbageCollector } from './core/store-gc.js';
import { CsiServer } from './csi/csi-server.js';
import { RpcHandlerFactory } from './csi/rpc-handler.js';
import type { PluginMetrics } from './plugin-metrics.js';
import { runsNode, startServices, type PluginMode } from './plugin-services.js';
import type { ListenAddress } from './settings/listen-address.js';
import { canonicalStateDir, lockStateDir } from './state-dir-lock.js';
import { StateDirWatch } from './state-dir-watch.js';

/**
 * A running `nixmount serve`, in any mode (node, controller or monolith): state
 * recovered, socket listening, and — where it serves nodes — idle views collected periodically.
 */
export class RunningPlugin {
  private gcTimer?: NodeJS.Timeout;
  private stateDirWatch?: StateDirWatch;
  private storeGc?: StoreGarbageCollector;
  /** Present when serving --metrics-address. */
  metrics?: PluginMetrics;
  /** The Nomad host volume plugin's line to this process (node modes), which owns the state dir. */
  private hostVolumes?: HostVolumeListener;

  private constructor(
    readonly services: NodeServices,
    private readonly server: CsiServer,
    private readonly unlock: () => Promise<void>,
    readonly socketPath: string,
    private readonly servesNodes: boolean,
  ) {}

  static async start(given: PluginConfig, endpoint: string, mode: PluginMode = 'node', metricsAddress?: ListenAddress): Promise<RunningPlugin> {
    const config = { ...given, settings: { ...given.settings, stateDir: await canonicalStateDir(given.settings.stateDir) } };
    const unlock = await lockStateDir(config.settings.stateDir);
    try {
      const services = composeNode(config);
      const rpc = new RpcHandlerFactory(config.logger, services.events);
      const server = new CsiServer(await startServices(mode, services, config, rpc), config.logger, services.events);
      // Before the socket: a plugin that answers Probe serves its metrics, and a taken port fails the start cleanly.
      // Loaded only when asked for: prom-client is memory a plugin without metrics does not carry.
      const metrics = metricsAddress ? await (await import('./plugin-metrics.js')).startPluginMetrics(services, config, mode, metricsAddress) : undefined;
      const socketPath = await server.listen(endpoint).catch(async (error: unknown) => {
        await metrics?.stop();
        throw error;
      });
      const plugin = new RunningPlugin(services, server, unlock, socketPath, runsNode(mode));
      plugin.metrics = metrics;
      if (runsNode(mode)) {
        plugin.scheduleGc(config);
        plugin.stateDirWatch = await StateDirWatch.start(config.settings.stateDir, services, config.logger);
        plugin.storeGc = services.storeGc;
        plugin.storeGc.start();
        // CSI volumes do not depend on it: a state dir that cannot hold the socket costs host volumes only.
        plugin.hostVolumes = await startHostVolumeService(services, config).catch((error: unknown) => {
          config.logger.error({ err: error }, 'cannot answer the Nomad host volume plugin; its creates and deletes fail while this serve runs');
          return undefined;
        });
      }
      return plugin;
    } catch (error) {
      await unlock();
      throw error;
    }
  }

  async stop(graceMs?: number): Promise<void> {
    clearInterval(this.gcTimer);
    this.stateDirWatch?.stop();
    this.storeGc?.stop();
    this.services.cachePusher.stop();
    await this.metrics?.stop();
    await Promise.all([this.server.stop(graceMs), this.hostVolumes?.close(graceMs)]);
    // The read-only binds kept for views go with the plugin (volumes stay mounted; a start sweeps them anyway).
    if (this.servesNodes) {
      await this.services.mounter.sweep().catch(() => 0);
      this.services.mountHelper.close();
    }
    await this.unlock();
  }

  private scheduleGc(config: PluginConfig): void {
    const idle = config.settings.viewIdleMs;
    if (idle <= 0) return;
    const views = this.services.views;
    this.gcTimer = setInterval(() => {
      views.collect(idle).catch((error: unknown) => config.logger.error({ err: error }, 'view collection failed'));
    }, Math.min(idle, 60_000));
    this.gcTimer.unref();
  }
}
