import { randomBytes } from 'node:crypto';
import { lstat, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { socketPath } from '../csi/socket-endpoint.js';
import { ok, problem, reason, type Check, type CheckResult } from './check.js';
import { nearestExisting } from '../platform/nearest-existing.js';

const NAME = 'socket';
const TIMEOUT_MS = 10_000;
const PROBE_DEADLINE_MS = 3_000;
/** sockaddr_un's sun_path holds 108 bytes, the final NUL included. */
const SUN_PATH_MAX = 107;

/** Binds a unix socket at `path` and removes it: what serve does at start, minus serving. */
async function trialBind(path: string): Promise<void> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(path, { force: true });
  }
}

/** Whether something accepts connections on the socket at `path` (a running serve). */
function answering(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(2_000, () => done(false));
  });
}

/** What the plugin on the socket says of itself: CSI GetPluginInfo and Probe, as the orchestrator's liveness probe asks. */
async function probe(path: string, dir: string): Promise<CheckResult> {
  const { CsiClient } = await import('../csi/csi-client.js');
  const client = new CsiClient(path);
  try {
    const about = await client.call<{ name?: string; vendor_version?: string }>('identity', 'GetPluginInfo', {}, PROBE_DEADLINE_MS);
    const answer = await client.call<{ ready?: { value?: boolean } }>('identity', 'Probe', {}, PROBE_DEADLINE_MS);
    const plugin = `${about.name ?? '?'} ${about.vendor_version ?? '?'}`;
    // An absent `ready` means ready, per the CSI spec.
    if (answer.ready?.value === false) {
      return problem(NAME, `${plugin} answers on ${path} but is not ready`, 'its log says why (a read-only or full state dir, a store it cannot open); it turns ready by itself once that is fixed');
    }
    return ok(NAME, `${dir} takes a socket, and ${plugin} answers ready on ${path}`);
  } catch (error) {
    const { code } = error as { code?: number };
    const { status } = await import('@grpc/grpc-js');
    return problem(
      NAME,
      `something accepts connections on ${path} but does not answer CSI Identity calls (${code === undefined ? reason(error) : `gRPC ${status[code] ?? code}`})`,
      'is another program (or another plugin) on this socket? Compare --endpoint with the sidecars\' --csi-address',
    );
  } finally {
    client.close();
  }
}

/** serve binds the CSI socket in its directory (made if missing); the sidecars and the orchestrator connect there. */
export function socketCheck(endpoint: string): Check {
  return {
    name: NAME,
    timeoutMs: TIMEOUT_MS,
    async run() {
      let path: string;
      try {
        path = socketPath(endpoint);
      } catch (error) {
        return problem(NAME, (error as Error).message, 'set --endpoint (CSI_ENDPOINT) to unix:///an/absolute/path.sock');
      }
      if (Buffer.byteLength(path) > SUN_PATH_MAX) {
        return problem(NAME, `${path} is ${Buffer.byteLength(path)} bytes, longer than a unix socket path can be (${SUN_PATH_MAX})`, 'use a shorter --endpoint path');
      }
      const dir = dirname(path);
      const anchor = await nearestExisting(dir);
      const trial = join(anchor.path, `.nixmount-doctor-${randomBytes(4).toString('hex')}.sock`);
      try {
        await trialBind(trial);
      } catch (error) {
        return problem(
          NAME,
          `cannot create a socket in ${anchor.path}${anchor.exists ? '' : ` (where ${dir} would be made)`}: ${reason(error)}`,
          `mount the socket's directory read-write into the plugin (Kubernetes: the socket-dir hostPath <kubelet-dir>/plugins/<driver-name>; Nomad: the csi_plugin's mount_dir)`,
        );
      }
      const existing = await lstat(path).catch(() => undefined);
      if (existing === undefined) return ok(NAME, `${anchor.exists ? dir : `${anchor.path} (where ${dir} will be made)`} takes a socket; nothing listens on ${path} yet`);
      if (!existing.isSocket()) return problem(NAME, `${path} exists and is not a socket: serve refuses to replace it`, `remove ${path} or choose another --endpoint`);
      if (await answering(path)) return probe(path, dir);
      return ok(NAME, `${dir} takes a socket; ${path} is left from a plugin that is gone (serve replaces it at start)`);
    },
  };
}
