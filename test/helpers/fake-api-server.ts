import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { tempDir } from './temp.js';

/** One request the server saw, with what it answered. */
export interface SeenRequest {
  method: string;
  path: string;
  status: number;
  body: any;
  /** Why it was refused (as the API server would say), when it was. */
  refusal?: string;
}

export type FailureMode = 'none' | 'error-500' | 'forbidden' | 'hang';

const RFC3339_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const REASON = /^[A-Z][A-Za-z]+$/;

/**
 * A loopback HTTPS server answering the two Event calls and a GET of a pod the way kube-apiserver does, and
 * checking what it checks: the TLS certificate of the cluster CA, the bearer token, the
 * path and verb, the content type, and the core/v1 Event schema (legacy form: metadata
 * name/namespace, involvedObject of a Pod in the same namespace or of a Node in `default`, reason, type Normal|Warning,
 * source, count and RFC 3339 timestamps). A POST of an existing name is 409; a PATCH of an
 * unknown one is 404. Its TLS certificate is made for the test with openssl (IP SAN 127.0.0.1).
 */
export class FakeApiServer {
  readonly events = new Map<string, any>();
  /** Pods `GET /api/v1/namespaces/<ns>/pods/<name>` answers, by `<ns>/<name>`. */
  readonly pods = new Map<string, any>();
  readonly seen: SeenRequest[] = [];
  failure: FailureMode = 'none';
  private readonly hung: ServerResponse[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
    /** A service-account directory: token, ca.crt, namespace. */
    readonly serviceAccountDir: string,
    readonly token: string,
  ) {}

  static async start(t: ExecutionContext, token = 'test-token-0123456789'): Promise<FakeApiServer> {
    const dir = await tempDir(t, 'nixmount-apiserver-');
    const key = join(dir, 'tls.key');
    const cert = join(dir, 'tls.crt');
    await execa('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc',
      '-keyout', key, '-out', cert,
    ]);
    const serviceAccountDir = join(dir, 'serviceaccount');
    await mkdir(serviceAccountDir);
    await writeFile(join(serviceAccountDir, 'ca.crt'), await readFile(cert));
    await writeFile(join(serviceAccountDir, 'token'), token);
    await writeFile(join(serviceAccountDir, 'namespace'), 'nixmount');
    let self: FakeApiServer | undefined;
    const server = createServer({ key: await readFile(key), cert: await readFile(cert) }, (request, response) => {
      void self!.handle(request, response);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new FakeApiServer(server, (server.address() as AddressInfo).port, serviceAccountDir, token);
    t.teardown(() => self!.close());
    return self;
  }

  /** What an in-cluster pod's environment says about the API server. */
  get env(): Record<string, string> {
    return { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(this.port) };
  }

  /** The Events stored, oldest first. */
  list(): any[] {
    return [...this.events.values()];
  }

  refusals(): SeenRequest[] {
    return this.seen.filter((request) => request.refusal !== undefined);
  }

  async close(): Promise<void> {
    for (const response of this.hung.splice(0)) response.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const seen: SeenRequest = { method: request.method ?? '', path: request.url ?? '', status: 0, body: undefined };
    this.seen.push(seen);
    const answer = (status: number, body: unknown, refusal?: string) => {
      seen.status = status;
      if (refusal !== undefined) seen.refusal = refusal;
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    const refuse = (status: number, reason: string, message: string) =>
      answer(status, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code: status }, message);

    if (this.failure === 'hang') {
      this.hung.push(response);
      return;
    }
    if (this.failure === 'error-500') return refuse(500, 'InternalError', 'etcdserver: request timed out');
    if (request.headers.authorization !== `Bearer ${this.token}`) return refuse(401, 'Unauthorized', 'Unauthorized');
    const getPod = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(seen.path);
    if (this.failure === 'forbidden') {
      const [verb, resource] = getPod ? ['get', 'pods'] : ['create', 'events'];
      return refuse(403, 'Forbidden', `${resource} is forbidden: User "system:serviceaccount:nixmount:nixmount-node" cannot ${verb} resource "${resource}"`);
    }
    if (getPod && request.method === 'GET') {
      const id = `${decodeURIComponent(getPod[1]!)}/${decodeURIComponent(getPod[2]!)}`;
      const found = this.pods.get(id);
      if (!found) return refuse(404, 'NotFound', `pods "${decodeURIComponent(getPod[2]!)}" not found`);
      return answer(200, found);
    }
    try {
      seen.body = JSON.parse(text);
    } catch {
      return refuse(400, 'BadRequest', 'the body is not JSON');
    }
    const create = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(seen.path);
    const patch = /^\/api\/v1\/namespaces\/([^/]+)\/events\/([^/]+)$/.exec(seen.path);
    if (create && request.method === 'POST') {
      if (request.headers['content-type'] !== 'application/json') return refuse(415, 'UnsupportedMediaType', `content type ${request.headers['content-type']}`);
      const problem = eventProblem(seen.body, decodeURIComponent(create[1]!));
      if (problem) return refuse(422, 'Invalid', `Event is invalid: ${problem}`);
      const id = `${seen.body.metadata.namespace}/${seen.body.metadata.name}`;
      if (this.events.has(id)) return refuse(409, 'AlreadyExists', `events "${seen.body.metadata.name}" already exists`);
      this.events.set(id, { ...seen.body, metadata: { ...seen.body.metadata, resourceVersion: '1' } });
      return answer(201, this.events.get(id));
    }
    if (patch && request.method === 'PATCH') {
      if (request.headers['content-type'] !== 'application/strategic-merge-patch+json') {
        return refuse(415, 'UnsupportedMediaType', `content type ${request.headers['content-type']}`);
      }
      const id = `${decodeURIComponent(patch[1]!)}/${decodeURIComponent(patch[2]!)}`;
      const existing = this.events.get(id);
      if (!existing) return refuse(404, 'NotFound', `events "${decodeURIComponent(patch[2]!)}" not found`);
      const problem = patchProblem(seen.body);
      if (problem) return refuse(422, 'Invalid', `Event is invalid: ${problem}`);
      const merged = { ...existing, ...seen.body };
      this.events.set(id, merged);
      return answer(200, merged);
    }
    return refuse(405, 'MethodNotAllowed', `${request.method} ${seen.path} is not an Event call`);
  }
}

/** What kube-apiserver would refuse in a created core/v1 Event (legacy validation), or undefined. */
function eventProblem(event: any, pathNamespace: string): string | undefined {
  if (event?.apiVersion !== 'v1' || event.kind !== 'Event') return 'apiVersion/kind must be v1/Event';
  const { metadata, involvedObject: object } = event;
  if (typeof metadata?.name !== 'string' || !DNS_SUBDOMAIN.test(metadata.name) || metadata.name.length > 253) return 'metadata.name';
  if (metadata.namespace !== pathNamespace) return 'metadata.namespace does not match the request namespace';
  if (object?.apiVersion !== 'v1' || (object.kind !== 'Pod' && object.kind !== 'Node') || typeof object.name !== 'string' || object.name === '') {
    return 'involvedObject must name a v1 Pod or Node';
  }
  // A cluster-scoped object's Events may live only in the empty or the `default` namespace.
  if (object.namespace === undefined || object.namespace === '') {
    if (object.kind === 'Pod') return 'involvedObject.namespace: a Pod has one';
    if (metadata.namespace !== 'default') return 'involvedObject.namespace does not match event.namespace';
  } else if (object.kind === 'Node' || object.namespace !== metadata.namespace) return 'involvedObject.namespace does not match event.namespace';
  if (object.uid !== undefined && typeof object.uid !== 'string') return 'involvedObject.uid';
  if (typeof event.reason !== 'string' || !REASON.test(event.reason) || event.reason.length > 128) return 'reason';
  if (event.type !== 'Normal' && event.type !== 'Warning') return 'type must be Normal or Warning';
  if (typeof event.message !== 'string' || event.message === '' || event.message.length > 1024) return 'message';
  if (typeof event.source?.component !== 'string' || event.source.component === '' || typeof event.source.host !== 'string') return 'source';
  if (event.reportingComponent !== undefined && !/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(event.reportingComponent)) return 'reportingComponent';
  if (event.eventTime !== undefined && event.eventTime !== null) return 'eventTime: nixmount posts legacy Events (count, first/lastTimestamp)';
  if (!RFC3339_SECONDS.test(event.firstTimestamp ?? '') || !RFC3339_SECONDS.test(event.lastTimestamp ?? '')) return 'firstTimestamp/lastTimestamp';
  if (event.lastTimestamp < event.firstTimestamp) return 'lastTimestamp before firstTimestamp';
  if (!Number.isInteger(event.count) || event.count < 1) return 'count';
  return undefined;
}

/** A repeat may change count, lastTimestamp and message, and nothing else. */
function patchProblem(patch: any): string | undefined {
  const keys = Object.keys(patch ?? {}).sort();
  if (keys.join(',') !== 'count,lastTimestamp,message') return `a repeat patches count, lastTimestamp and message, not ${keys.join(',')}`;
  if (!Number.isInteger(patch.count) || patch.count < 1) return 'count';
  if (!RFC3339_SECONDS.test(patch.lastTimestamp)) return 'lastTimestamp';
  if (typeof patch.message !== 'string' || patch.message === '') return 'message';
  return undefined;
}
