import { status, type handleUnaryCall, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { InFlightGuard } from '../core/in-flight-guard.js';
import type { Logger } from '../core/ports/logger.js';
import { toGrpcError } from './error-mapping.js';

export interface RpcDefinition<Req, Res> {
  /** CSI method name, for logs. */
  method: string;
  /** Checks required fields; runs before anything else, so bad requests never take a lock. */
  validate?: (request: Req) => void;
  /** Requests with the same key are never in flight together (the second gets ABORTED). */
  lockKey?: (request: Req) => string | undefined;
  /** Log fields describing the request (never secrets). */
  describe?: (request: Req) => Record<string, unknown>;
  handle: (request: Req, log: Logger) => Promise<Res>;
}

/**
 * The one choke point every CSI RPC passes through: a child logger, validation,
 * the per-volume in-flight guard, and the mapping of errors to gRPC codes.
 */
export class RpcHandlerFactory {
  private readonly guard = new InFlightGuard();

  constructor(private readonly log: Logger) {}

  unary<Req, Res>(definition: RpcDefinition<Req, Res>): handleUnaryCall<Req, Res> {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const request = call.request;
      const fields = { method: definition.method, ...(definition.describe?.(request) ?? {}) };
      const log = this.log.child(fields);
      const started = Date.now();
      const run = async (): Promise<Res> => {
        definition.validate?.(request);
        const key = definition.lockKey?.(request);
        const work = () => definition.handle(request, log);
        return key === undefined ? work() : this.guard.run(key, definition.method, work);
      };
      run().then(
        (response) => {
          log.debug({ ms: Date.now() - started }, 'rpc ok');
          callback(null, response);
        },
        (error: unknown) => {
          const mapped = toGrpcError(error);
          if (mapped.expected) log.info({ code: status[mapped.code], ms: Date.now() - started }, mapped.message);
          else log.error({ code: status[mapped.code], err: error }, 'rpc failed');
          callback({ code: mapped.code, details: mapped.message });
        },
      );
    };
  }
}
