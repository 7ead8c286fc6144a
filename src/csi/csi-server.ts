import { Server, ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from '../core/ports/logger.js';
import { csiProto } from './proto.js';
import { watchRefusedStreams } from './refused-streams.js';
import type { NodeEvents } from '../core/ports/node-events.js';
import { prepareSocket, socketPath } from './socket-endpoint.js';

export interface CsiServices {
  identity: UntypedServiceImplementation;
  node?: UntypedServiceImplementation;
  controller?: UntypedServiceImplementation;
}

/** The gRPC server on a unix socket; stops gracefully, then by force after a grace period. */
export class CsiServer {
  private readonly server = new Server();
  private path?: string;

  constructor(
    services: CsiServices,
    private readonly log: Logger,
    /** Where a client the server refuses is reported (for the orchestrator's own events). */
    private readonly events?: NodeEvents,
  ) {
    const csi = csiProto().csi.v1;
    this.server.addService(csi.Identity.service, services.identity);
    if (services.node) this.server.addService(csi.Node.service, services.node);
    if (services.controller) this.server.addService(csi.Controller.service, services.controller);
  }

  async listen(endpoint: string): Promise<string> {
    const path = socketPath(endpoint);
    await prepareSocket(path);
    await new Promise<void>((resolve, reject) => {
      this.server.bindAsync(`unix://${path}`, ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve()));
    });
    watchRefusedStreams(this.server, this.log, { onRefused: () => this.events?.emit({ kind: 'calls-refused' }) });
    this.path = path;
    this.log.info({ endpoint: `unix://${path}` }, 'CSI server listening');
    return path;
  }

  async stop(graceMs = 10_000): Promise<void> {
    const graceful = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    if ((await Promise.race([graceful, timer])) === 'timeout') {
      this.log.warn({ graceMs }, 'calls still running after the grace period; forcing shutdown');
      this.server.forceShutdown();
    }
    if (this.path) await prepareSocket(this.path).catch(() => undefined);
    this.log.info('CSI server stopped');
  }
}
