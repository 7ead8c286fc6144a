import type { NodeServices, PluginConfig } from '../../composition-root.js';
import { InvalidArgumentError, UnavailableError, isNixmountError } from '../../core/errors.js';
import { physicalRoot } from '../../platform/nix-settings.js';
import { defaultProtectedDirs } from '../common/paths.js';
import { LocalAdapter } from '../local/local-adapter.js';
import { boundedDeadlines } from './host-volume-deadlines.js';
import { createHostVolume, deleteHostVolume, type HostVolumeNode } from './host-volume-operations.js';
import { hostVolumeRequest } from './host-volume-request.js';
import { hostVolumeSocketPath, listenHostVolumeSocket, type DelegatedAnswer, type HostVolumeListener } from './host-volume-socket.js';

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
    const deadlines = boundedDeadlines(given, Date.now());
    // Read late (serve stopped, or busy): the plugin has told Nomad the call failed, or is about to.
    const late = Date.now() - deadlines.startBy;
    if (late >= 0) {
      throw new UnavailableError(`the ${request.operation} of host volume ${request.volumeId} reached nixmount serve ${(late / 1000).toFixed(1)} s after its last start time; not started: run it again`);
    }
    if (request.operation === 'create') {
      const created = await createHostVolume(node, request, deadlines);
      opLog.info({ path: created.path }, 'host volume created');
      return { ok: true, ...created };
    }
    await deleteHostVolume(node, request, deadlines);
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

const SHAPE = 'a host volume request is a JSON object with operation ("create" or "delete"), env (an object of strings), startBy and answerBy (epoch milliseconds) and store (a string)';

/** The request line, whatever was sent: anything but the plugin's shape is INVALID_ARGUMENT naming what is wrong. */
function checkShape(raw: unknown): { operation: 'create' | 'delete'; env: Record<string, string>; startBy: number; answerBy: number; store: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidArgumentError(`${SHAPE}; got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : `a ${typeof raw}`}`);
  }
  const { operation, env, startBy, answerBy, store } = raw as Record<string, unknown>;
  const bad = (key: string) => new InvalidArgumentError(`${SHAPE}; its "${key}" is ${describe((raw as Record<string, unknown>)[key])}`);
  if (operation !== 'create' && operation !== 'delete') throw bad('operation');
  if (typeof env !== 'object' || env === null || Array.isArray(env) || !Object.values(env).every((value) => typeof value === 'string')) throw bad('env');
  if (typeof startBy !== 'number' || !Number.isFinite(startBy)) throw bad('startBy');
  if (typeof answerBy !== 'number' || !Number.isFinite(answerBy)) throw bad('answerBy');
  if (typeof store !== 'string') throw bad('store');
  return { operation, env: env as Record<string, string>, startBy, answerBy, store };
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 64 ? text : `${text.slice(0, 64)}… (${text.length} characters)`;
}
