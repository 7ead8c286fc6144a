import type { NodeServices, PluginConfig } from '../../composition-root.js';
import { isNixmountError } from '../../core/errors.js';
import { physicalRoot } from '../../platform/nix-settings.js';
import { defaultProtectedDirs } from '../common/paths.js';
import { LocalAdapter } from '../local/local-adapter.js';
import { createHostVolume, deleteHostVolume, type HostVolumeNode } from './host-volume-operations.js';
import { hostVolumeRequest } from './host-volume-request.js';
import { hostVolumeSocketPath, listenHostVolumeSocket, type DelegatedAnswer, type HostVolumeListener } from './host-volume-socket.js';

// What serve grants one delegated create to wait for its closure, or any operation to wait for its path, whatever the plugin asks.
const MIN_REALISE_WAIT_MS = 1_000;
const MAX_REALISE_WAIT_MS = 60_000;

/**
 * Serve's half of the host volume plugin: while `nixmount serve` owns a state dir, the
 * plugin's create and delete run here, in the one process that mutates it (its
 * records, leases and views in memory), so a closure used by CSI volumes and host
 * volumes has one view. The operations and path rules are the plugin's own
 * (host-volume-operations, the local adapter), not the CSI adapter's.
 */
export async function startHostVolumeService(services: Pick<NodeServices, 'volumesFor'>, config: PluginConfig): Promise<HostVolumeListener> {
  const { settings, nix, logger } = config;
  const adapter = new LocalAdapter(settings.nodeId, { protectedDirs: defaultProtectedDirs(settings.stateDir, physicalRoot(nix.storeUri)) });
  const node: HostVolumeNode = { volumes: services.volumesFor(adapter), adapter };
  const log = logger.child({ component: 'host-volume' });
  return listenHostVolumeSocket(hostVolumeSocketPath(settings.stateDir), (request) => answer(node, nix.storeUri, request, log), log);
}

async function answer(node: HostVolumeNode, storeUri: string, raw: unknown, log: PluginConfig['logger']): Promise<DelegatedAnswer> {
  try {
    const given = checkShape(raw);
    if (given.store !== storeUri) {
      return {
        ok: false,
        kind: 'FailedPrecondition',
        message: `the host volume config names ${storeName(given.store)} but the nixmount serve that owns this state dir uses ${storeName(storeUri)}; give both the same store`,
      };
    }
    const request = hostVolumeRequest(given.operation, given.env);
    const opLog = log.child({ operation: request.operation, volumeId: request.volumeId });
    // Also bounds the wait for another operation on the same path (see host-volume-operations).
    const waitMs = Math.min(MAX_REALISE_WAIT_MS, Math.max(MIN_REALISE_WAIT_MS, given.realiseWaitMs));
    if (request.operation === 'create') {
      const created = await createHostVolume(node, request, waitMs);
      opLog.info({ path: created.path }, 'host volume created');
      return { ok: true, ...created };
    }
    await deleteHostVolume(node, request, waitMs);
    opLog.info({ path: request.path }, 'host volume deleted');
    return { ok: true };
  } catch (error) {
    log.warn({ err: error }, 'host volume operation failed');
    return { ok: false, kind: isNixmountError(error) ? error.kind : 'Internal', message: error instanceof Error ? error.message : String(error) };
  }
}

function storeName(uri: string): string {
  return uri === '' ? 'the default store' : `store "${uri}"`;
}

function checkShape(raw: unknown): { operation: 'create' | 'delete'; env: Record<string, string>; realiseWaitMs: number; store: string } {
  const request = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const { operation, env, realiseWaitMs, store } = request;
  const envOk = typeof env === 'object' && env !== null && Object.values(env).every((value) => typeof value === 'string');
  if ((operation !== 'create' && operation !== 'delete') || !envOk || typeof realiseWaitMs !== 'number' || typeof store !== 'string') {
    throw new Error('a host volume request needs operation ("create" or "delete"), env (strings), realiseWaitMs and store');
  }
  return { operation, env: env as Record<string, string>, realiseWaitMs, store };
}
