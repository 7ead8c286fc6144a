import { status, type handleUnaryCall, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { InFlightGuard } from './in-flight-guard.js';
import { UnimplementedError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import type { Logger } from '../core/ports/logger.js';
import type { NodeEvents } from '../core/ports/node-events.js';
import { boundMessage, quote, QUOTE_MAX_CHARS } from '../core/quote.js';
import { toGrpcError } from './error-mapping.js';

export interface RpcDefinition<Req, Res, Checked = void> {
  /** CSI method name, for logs. */
  method: string;
  /**
   * Checks required fields and bounds; runs before anything else, so bad requests never
   * take a lock. What it returns (e.g. canonical paths) is handed to lockKey and handle.
   */
  validate?: (request: Req) => Checked;
  /** Requests with the same key are never in flight together (the second gets ABORTED). */
  lockKey?: (request: Req, checked: Checked) => string | undefined;
  /** Log fields describing the request (never secrets). Long strings are cut before logging. */
  describe?: (request: Req) => Record<string, unknown>;
  handle: (request: Req, log: Logger, checked: Checked) => Promise<Res>;
}

/** A log field cut to a bounded size: a 1 MB volume id must not make a 1 MB log line. */
function boundField(value: unknown): unknown {
  if (typeof value === 'string') return value.length > QUOTE_MAX_CHARS ? quote(value) : value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    const bounded = entries.slice(0, 20).map(([key, inner]) => [boundField(key) as string, boundField(inner)]);
    if (entries.length > 20) bounded.push(['…', `${entries.length - 20} more`]);
    return Object.fromEntries(bounded);
  }
  return value;
}

function boundFields(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, boundField(value)]));
}

/**
 * The one choke point every CSI RPC passes through: a child logger, validation,
 * the per-volume in-flight guard, and the mapping of errors to gRPC codes. No status
 * message leaves longer than LIMITS.statusMessageBytes: a longer one is never received by
 * grpc-js clients, and the calls sharing its connection stall until their deadline.
 */
export class RpcHandlerFactory {
  private readonly guard = new InFlightGuard();

  /** `events` hears of every answered call (`rpc`: method, code, seconds), e.g. for metrics. */
  constructor(
    private readonly log: Logger,
    private readonly events?: NodeEvents,
  ) {}

  unary<Req, Res, Checked = void>(definition: RpcDefinition<Req, Res, Checked>): handleUnaryCall<Req, Res> {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const request = call.request;
      const started = Date.now();
      const began = performance.now();
      let log = this.log.child({ method: definition.method });
      const run = async (): Promise<Res> => {
        log = this.log.child(boundFields({ method: definition.method, ...(definition.describe?.(request) ?? {}) }));
        const checked = definition.validate ? definition.validate(request) : (undefined as Checked);
        const key = definition.lockKey?.(request, checked);
        const work = () => definition.handle(request, log, checked);
        return key === undefined ? work() : this.guard.run(key, definition.method, work);
      };
      // Told after the answer is sent, so a listener never delays it.
      const answered = (code: status) =>
        this.events?.emit({ kind: 'rpc', method: definition.method, code: status[code], seconds: (performance.now() - began) / 1000 });
      run().then(
        (response) => {
          log.debug({ ms: Date.now() - started }, 'rpc ok');
          callback(null, response);
          answered(status.OK);
        },
        (error: unknown) => {
          const mapped = toGrpcError(error);
          const message = boundMessage(mapped.message, LIMITS.statusMessageBytes);
          if (mapped.expected) log.info({ code: status[mapped.code], ms: Date.now() - started }, message);
          else log.error({ code: status[mapped.code], err: error }, 'rpc failed');
          callback({ code: mapped.code, details: message });
          answered(mapped.code);
        },
      );
    };
  }

  /** A method this plugin does not offer: UNIMPLEMENTED, through the same choke point (logged like any call). */
  unimplemented(method: string): handleUnaryCall<unknown, never> {
    return this.unary({
      method,
      handle: async () => {
        throw new UnimplementedError(`${method} is not offered by this plugin`);
      },
    });
  }
}
