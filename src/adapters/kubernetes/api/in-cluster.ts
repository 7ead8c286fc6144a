import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Where kubelet mounts a pod's service-account token, CA and namespace (the same path in every pod). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How a pod reaches its API server: the address kubelet puts in its environment, the cluster's CA, its token. */
export interface ApiServer {
  host: string;
  port: number;
  ca: Buffer;
  /** Read again for every request: kubelet rotates bound service-account tokens in place. */
  tokenFile: string;
}

/**
 * The in-cluster API server, as every in-cluster client finds it: KUBERNETES_SERVICE_HOST
 * and KUBERNETES_SERVICE_PORT, and the CA of the service-account volume. Throws an Error
 * saying what is missing (outside a pod, or a pod without a mounted token).
 */
export async function inClusterApiServer(env: NodeJS.ProcessEnv, dir: string = SERVICE_ACCOUNT_DIR): Promise<ApiServer> {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = Number(env.KUBERNETES_SERVICE_PORT);
  if (!host || !Number.isInteger(port) || port <= 0) {
    throw new Error('KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: nixmount is not running in a pod');
  }
  const tokenFile = join(dir, 'token');
  let ca: Buffer;
  try {
    ca = await readFile(join(dir, 'ca.crt'));
    await readFile(tokenFile);
  } catch (error) {
    throw new Error(
      `no service-account token in ${dir} (${(error as Error).message}); the pod needs automountServiceAccountToken: true ` +
        '(the events component of manifests/ sets it)',
      { cause: error },
    );
  }
  return { host, port, ca, tokenFile };
}
