import type { Server } from '@grpc/grpc-js';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import type { Logger } from '../core/ports/logger.js';

/**
 * Why a call can vanish before any handler runs. Node's HTTP/2 (nghttp2) answers a request
 * whose `:authority` is not a valid host (old Go gRPC clients send the unix socket's path)
 * with RST_STREAM PROTOCOL_ERROR inside the native layer: no JS event, no grpc-js handler,
 * so without this the plugin's log would show nothing while kubelet or Nomad fail.
 * Node has no option to relax that check, and rewriting HPACK-encoded headers on the way in
 * would mean a header decoder in front of every connection; nixmount diagnoses instead.
 */
export const REFUSED_STREAM_MESSAGE =
  'a gRPC call was refused before it reached the plugin (HTTP/2 PROTOCOL_ERROR): the client sent a request header ' +
  "Node's HTTP/2 rejects, almost always the unix socket's path as the :authority. Old orchestrators do that: " +
  'kubelet before Kubernetes 1.26, and Nomad before 1.3.0 other than 1.2.7+ and 1.1.13+ (hashicorp/nomad#12359). ' +
  'nixmount needs Kubernetes >= 1.26 or Nomad >= 1.3 (or 1.2.7, 1.1.13); upgrade the orchestrator on this node';

/**
 * Watches each HTTP/2 connection for streams the native layer refused: nghttp2 counts every
 * stream whose headers began (`state.lastProcStreamID`), JS sees only the ones that became
 * 'stream' events. A higher last id than any stream seen means the newest stream was refused.
 * Checked when the client closes the connection, and on a timer for clients that keep it
 * open and retry (Nomad keeps one connection per plugin).
 */
export interface RefusedStreamsOptions {
  /** Called after the log line, once per connection that had a call refused. */
  onRefused?: () => void;
  intervalMs?: number;
}

export function watchRefusedStreams(grpcServer: Server, log: Logger, { onRefused = () => undefined, intervalMs = 5_000 }: RefusedStreamsOptions = {}): void {
  const servers = http2ServersOf(grpcServer);
  if (!servers) {
    log.warn('cannot watch HTTP/2 connections for refused calls (grpc-js internals changed); old orchestrators will fail silently');
    return;
  }
  for (const server of servers) server.on('session', (session) => watchSession(session, log, onRefused, intervalMs));
}

function watchSession(session: ServerHttp2Session, log: Logger, onRefused: () => void, intervalMs: number): void {
  let highestSeen = 0;
  let suspect = 0;
  let reported = false;
  session.on('stream', (stream) => {
    highestSeen = Math.max(highestSeen, stream.id ?? 0);
  });
  const refusedId = (): number => {
    const last = session.destroyed ? 0 : (session.state.lastProcStreamID ?? 0);
    return last > highestSeen ? last : 0;
  };
  const report = (streamId: number) => {
    if (reported) return;
    reported = true;
    log.error({ streamId, callsHandled: highestSeen === 0 ? 0 : (highestSeen + 1) / 2 }, REFUSED_STREAM_MESSAGE);
    onRefused();
  };
  // A stream id seen unhandled at two ticks in a row is refused, not a header block still arriving.
  const timer = setInterval(() => {
    const id = refusedId();
    if (id !== 0 && id === suspect) report(id);
    suspect = id;
  }, intervalMs);
  timer.unref();
  // Prepended: Node's own close listener destroys the session, and its state with it.
  session.socket.prependListener('close', () => {
    clearInterval(timer);
    const id = refusedId();
    if (id !== 0) report(id);
  });
  session.once('close', () => clearInterval(timer));
}

/** grpc-js keeps its Node HTTP/2 servers in a private map; read it defensively. */
function http2ServersOf(grpcServer: Server): Http2Server[] | undefined {
  const map = (grpcServer as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(map instanceof Map)) return undefined;
  const servers = [...map.keys()].filter((key): key is Http2Server => typeof (key as Http2Server)?.on === 'function');
  return servers.length > 0 ? servers : undefined;
}
