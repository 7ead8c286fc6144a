import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { csiProto } from './proto.js';

type Callback<Res> = (error: ServiceError | null, response?: Res) => void;
type UnaryMethod = (request: unknown, metadata: Metadata, options: { deadline: number }, callback: Callback<unknown>) => unknown;

const DEFAULT_DEADLINE_MS = 120_000; // kubelet and Nomad give each call two minutes

/** Promisified CSI clients over a unix socket (used by the demo, tests and tools); each call has a deadline like an orchestrator's. */
export class CsiClient {
  readonly identity;
  readonly node;
  readonly controller;

  constructor(readonly socketPath: string) {
    const csi = csiProto().csi.v1;
    const address = `unix://${socketPath}`;
    this.identity = new csi.Identity(address, credentials.createInsecure());
    this.node = new csi.Node(address, credentials.createInsecure());
    this.controller = new csi.Controller(address, credentials.createInsecure());
  }

  /** Calls `service.method(request)`; resolves the response or rejects with the gRPC ServiceError. */
  call<Res = any>(service: 'identity' | 'node' | 'controller', method: string, request: unknown = {}, deadlineMs = DEFAULT_DEADLINE_MS): Promise<Res> {
    const client = this[service] as unknown as Record<string, UnaryMethod>;
    const fn = client[method];
    if (!fn) throw new Error(`no method ${service}.${method}`);
    return new Promise((resolve, reject) => {
      fn.call(client, request, new Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) => (error ? reject(error) : resolve(response as Res)));
    });
  }

  /** The gRPC status code a call fails with, or 0 for success. */
  async code(service: 'identity' | 'node' | 'controller', method: string, request: unknown = {}): Promise<{ code: number; details: string }> {
    try {
      await this.call(service, method, request);
      return { code: 0, details: '' };
    } catch (error) {
      const e = error as ServiceError;
      return { code: e.code, details: e.details };
    }
  }

  close(): void {
    this.identity.close();
    this.node.close();
    this.controller.close();
  }
}

export function mountCapability(mode = 'SINGLE_NODE_WRITER', mountFlags: string[] = []) {
  return { mount: { fs_type: '', mount_flags: mountFlags }, access_mode: { mode } };
}
