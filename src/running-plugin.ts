import type { Container } from 'inversify';
import { createContainer, type PluginConfig } from './composition-root.js';
import { Mounter } from './core/ports/mounter.js';
import { ViewManager } from './core/view-manager.js';
import { CsiServer } from './csi/csi-server.js';
import { RpcHandlerFactory } from './csi/rpc-handler.js';
import { runsNode, startServices, type PluginMode } from './plugin-services.js';
import { canonicalStateDir, lockStateDir } from './state-dir-lock.js';

/**
 * A running `nixmount serve`, in any mode (node, controller or monolith): state
 * recovered, socket listening, and — where it serves nodes — idle views collected periodically.
 */
export class RunningPlugin {
  private gcTimer?: NodeJS.Timeout;

  private constructor(
    readonly container: Container,
    private readonly server: CsiServer,
    private readonly unlock: () => Promise<void>,
    readonly socketPath: string,
    private readonly servesNodes: boolean,
  ) {}

  static async start(given: PluginConfig, endpoint: string, mode: PluginMode = 'node'): Promise<RunningPlugin> {
    const config = { ...given, settings: { ...given.settings, stateDir: await canonicalStateDir(given.settings.stateDir) } };
    const unlock = await lockStateDir(config.settings.stateDir);
    try {
      const container = createContainer(config);
      const rpc = new RpcHandlerFactory(config.logger);
      const server = new CsiServer(await startServices(mode, container, config, rpc), config.logger);
      const socketPath = await server.listen(endpoint);
      const plugin = new RunningPlugin(container, server, unlock, socketPath, runsNode(mode));
      if (runsNode(mode)) plugin.scheduleGc(config);
      return plugin;
    } catch (error) {
      await unlock();
      throw error;
    }
  }

  async stop(graceMs?: number): Promise<void> {
    clearInterval(this.gcTimer);
    await this.server.stop(graceMs);
    // The read-only binds kept for views go with the plugin (volumes stay mounted; a start sweeps them anyway).
    if (this.servesNodes) await this.container.get<Mounter>(Mounter).sweep().catch(() => 0);
    await this.unlock();
  }

  private scheduleGc(config: PluginConfig): void {
    const idle = config.settings.viewIdleMs;
    if (idle <= 0) return;
    const views = this.container.get(ViewManager);
    this.gcTimer = setInterval(() => {
      views.collect(idle).catch((error: unknown) => config.logger.error({ err: error }, 'view collection failed'));
    }, Math.min(idle, 60_000));
    this.gcTimer.unref();
  }
}
