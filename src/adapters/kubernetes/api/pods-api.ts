import { FailedPreconditionError, PermissionDeniedError, UnavailableError } from '../../../core/errors.js';
import { quote } from '../../../core/quote.js';
import { storePathsInPod, type PodSpecView } from '../pod-store-paths.js';
import { ApiError, apiRequest } from './api-request.js';
import { inClusterApiServer, SERVICE_ACCOUNT_DIR, type ApiServer } from './in-cluster.js';

// A pod object is a few KiB; one with large env values stays well under this.
const POD_MAX_BYTES = 4 * 2 ** 20;

/** Where the Kubernetes adapter reads a pod's store paths from. */
export interface PodReader {
  /** The store paths the pod's containers name; throws a nixmount error a FailedMount can show. */
  storePathsOf(namespace: string, name: string): Promise<string[]>;
}

/**
 * `GET /api/v1/namespaces/<ns>/pods/<name>` with the node plugin's service-account token
 * (RBAC: `get` on `pods`). The API server is found the in-cluster way, at the first read.
 */
export class PodsApi implements PodReader {
  private server?: Promise<ApiServer>;

  constructor(server?: ApiServer) {
    if (server) this.server = Promise.resolve(server);
  }

  async storePathsOf(namespace: string, name: string): Promise<string[]> {
    const pod = `${namespace}/${name}`;
    let server: ApiServer;
    try {
      this.server ??= inClusterApiServer(process.env, SERVICE_ACCOUNT_DIR);
      server = await this.server;
    } catch (error) {
      this.server = undefined;
      throw new FailedPreconditionError(`podStorePaths: cannot read pod ${quote(pod)}: ${(error as Error).message}`, { cause: error });
    }
    let text: string;
    try {
      text = await apiRequest(server, {
        method: 'GET',
        path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`,
        maxBytes: POD_MAX_BYTES,
      });
    } catch (error) {
      throw refusal(pod, error);
    }
    let parsed: PodSpecView;
    try {
      parsed = JSON.parse(text) as PodSpecView;
    } catch (error) {
      throw new UnavailableError(`podStorePaths: the API server's answer for pod ${quote(pod)} is not JSON`, { cause: error });
    }
    return storePathsInPod(parsed);
  }
}

function refusal(pod: string, error: unknown): Error {
  const message = (error as Error).message;
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    return new PermissionDeniedError(
      `podStorePaths: the API server refused to let the node plugin read pod ${quote(pod)} (${message}); its ServiceAccount needs get on pods: apply the pod-store-paths/ component of the manifests`,
      { cause: error },
    );
  }
  if (error instanceof ApiError && error.status === 404) {
    return new FailedPreconditionError(`podStorePaths: pod ${quote(pod)} not found by the API server (${message})`, { cause: error });
  }
  return new UnavailableError(`podStorePaths: reading pod ${quote(pod)} failed: ${message}`, { cause: error });
}
