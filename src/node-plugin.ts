import type { Container } from 'inversify';
import { createContainer, type PluginConfig } from './composition-root.js';
import { NixStore } from './core/ports/nix-store.js';
import { ViewStore } from './core/ports/view-store.js';
import { ViewManager } from './core/view-manager.js';
import { VolumePublisher } from './core/volume-publisher.js';
import { CsiServer } from './csi/csi-server.js';
import { identityService } from './csi/identity-service.js';
import { nodeService } from './csi/node-service.js';
import { Readiness } from './csi/readiness.js';
import { RpcHandlerFactory } from './csi/rpc-handler.js';
import { lockStateDir } from './state-dir-lock.js';

/** A running `nixmount serve`: state recovered, socket listening, idle views collected periodically. */
export class NodePlugin {
  private gcTimer?: NodeJS.Timeout;

  private constructor(
    readonly container: Container,
    private readonly server: CsiServer,
    private readonly unlock: () => Promise<void>,
    readonly socketPath: string,
  ) {}

  static async start(config: PluginConfig, endpoint: string): Promise<NodePlugin> {
    const unlock = await lockStateDir(config.settings.stateDir);
    try {
      const container = createContainer(config);
      const publisher = container.get(VolumePublisher);
      const leftovers = await container.get<ViewStore>(ViewStore).sweepLeftovers();
      if (leftovers.length > 0) config.logger.warn({ leftovers }, 'removed half-built views from an earlier run');
      await publisher.recover();
      const rpc = new RpcHandlerFactory(config.logger);
      const readiness = new Readiness(container.get<NixStore>(NixStore), config.settings.stateDir, config.logger);
      const server = new CsiServer(
        {
          identity: identityService(rpc, { settings: config.settings, adapter: config.adapter, readiness }),
          node: nodeService(rpc, publisher, config.adapter),
        },
        config.logger,
      );
      const socketPath = await server.listen(endpoint);
      const plugin = new NodePlugin(container, server, unlock, socketPath);
      plugin.scheduleGc(config);
      return plugin;
    } catch (error) {
      await unlock();
      throw error;
    }
  }

  async stop(graceMs?: number): Promise<void> {
    clearInterval(this.gcTimer);
    await this.server.stop(graceMs);
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
