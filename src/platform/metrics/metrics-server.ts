import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../../core/ports/logger.js';
import type { ListenAddress } from '../../settings/listen-address.js';

/**
 * Bounds for a port anyone on the pod network may reach. Every connection holds a file
 * descriptor of the plugin, which needs them for its mounts and children: Prometheus
 * scrapes over one connection at a time, so a few suffice, and one that sends nothing
 * useful (a request never finished, a keep-alive left open) is closed within seconds.
 */
export const METRICS_LIMITS = {
  maxConnections: 16,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  idleSocketTimeoutMs: 10_000,
  /** How often Node looks for requests past their header or request timeout (its default is 30 s). */
  checkIntervalMs: 1_000,
} as const;

/** Plain HTTP serving `GET /metrics` in Prometheus' text format; nothing else. */
export class MetricsServer {
  private constructor(
    private readonly server: Server,
    /** Where it listens, with the port the system chose for port 0. */
    readonly url: string,
  ) {}

  static async start(registry: Registry, address: ListenAddress, log: Logger): Promise<MetricsServer> {
    const server = createServer({
      headersTimeout: METRICS_LIMITS.headersTimeoutMs,
      requestTimeout: METRICS_LIMITS.requestTimeoutMs,
      keepAliveTimeout: METRICS_LIMITS.keepAliveTimeoutMs,
      connectionsCheckingInterval: METRICS_LIMITS.checkIntervalMs,
    }, (request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (path !== '/metrics') return void response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      if (request.method !== 'GET' && request.method !== 'HEAD') return void response.writeHead(405, { allow: 'GET, HEAD' }).end();
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(request.method === 'HEAD' ? undefined : text),
        (error: unknown) => {
          log.error({ err: error }, 'metrics: collecting failed');
          response.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed; see the plugin\'s log\n');
        },
      );
    });
    // Connections past the cap are closed as they arrive; idle ones are destroyed at the timeout.
    server.maxConnections = METRICS_LIMITS.maxConnections;
    server.setTimeout(METRICS_LIMITS.idleSocketTimeoutMs);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: address.port, ...(address.host ? { host: address.host } : {}) }, () => {
        server.off('error', reject);
        // An accept that fails (EMFILE) is an 'error' event: heard, it costs one connection, not the plugin.
        server.on('error', (error) => log.warn({ err: error }, 'metrics: accepting a connection failed'));
        resolve();
      });
    }).catch((error: unknown) => {
      const where = `${address.host ?? ''}:${address.port}`;
      throw new Error(`--metrics-address ${where}: cannot listen (${error instanceof Error ? error.message : String(error)})`, { cause: error });
    });
    // Scrapes are cheap and rare; the server must never keep the process alive on its own.
    server.unref();
    const bound = server.address() as AddressInfo;
    const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    const url = `http://${host}:${bound.port}/metrics`;
    log.info({ url }, 'serving metrics');
    return new MetricsServer(server, url);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
