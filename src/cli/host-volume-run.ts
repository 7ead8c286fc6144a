import { dirname } from 'node:path';
import type { HostVolumeRequest } from '../adapters/nomad-host/host-volume-request.js';
import { NOMAD_KILL_MS, realiseWaitMs, serveDeadlines, START_BY_MS, UNDO_MS, type HostVolumeDeadlines } from '../adapters/nomad-host/host-volume-deadlines.js';
import { AbortedError } from '../core/errors.js';
import { parseUserContext } from '../core/volume-context.js';
import { optionsOf, parseCommandLine } from '../settings/command-line.js';
import type { PublishValues } from '../settings/command-values.js';
import { PLUGIN_OPTIONS } from '../settings/plugin-options.js';

/**
 * How the host volume plugin carries out a create or delete on the node's one state
 * dir: by itself, or through the `nixmount serve` that owns it (see `operate`).
 */

// How long a state dir held by a process that does not answer (a `nixmount publish` by hand, a serve starting) is waited for, within the start-by time.
const LOCK_WAIT_MS = 10_000;

// The node config takes `nixmount publish`'s node-wide options; what names a volume comes from Nomad.
const PER_VOLUME = new Set(['target', 'paths', 'context', 'read-write', 'volume-id', 'refresh']);
const CONFIG_OPTIONS = optionsOf('publish', PLUGIN_OPTIONS).filter(([, spec]) => !PER_VOLUME.has(spec.flag));
export const CONFIG_KEYS = CONFIG_OPTIONS.map(([, spec]) => spec.flag);

/** The node config's strings read as `publish` reads its flags (no environment: Nomad gives plugins none of it). */
function configValues(config: Record<string, string>): Partial<PublishValues> {
  const argv = Object.entries(config).map(([key, value]) => `--${key}=${value}`);
  return parseCommandLine(CONFIG_OPTIONS, argv, {}).values as Partial<PublishValues>;
}

export type Answer = { path: string; bytes: number } | undefined;

/** The node config as the pipeline's settings (defaults for what it leaves out, as `nixmount publish`). */
async function nodeSettings(config: Record<string, string>) {
  return (await import('./local-volume.js')).localSettings(configValues(config));
}

/**
 * Runs create or delete on the node's state dir. Exactly one process mutates a state
 * dir: this one when it can take the lock, else the `nixmount serve` holding it, asked
 * over its private socket in the state dir. When neither works (a `nixmount publish` by
 * hand holds the lock, or serve is starting, stopping or died mid-call) it waits and
 * tries again; a dead owner's lock is freed with it and taken, and the start-up recovery repairs
 * what it left, so the same call completes.
 */
export async function operate(request: HostVolumeRequest, config: Record<string, string>, deadlines: HostVolumeDeadlines): Promise<Answer> {
  // A call that queued past its start-by time touches nothing, not even the state dir.
  refuseIfLate(request, deadlines);
  // Checked before the state dir is touched: a bad volume leaves nothing behind. The node
  // config's source policy holds on both routes (a serve applies its own as well).
  const { checkSourcePolicy } = await import('../core/source-settings.js');
  const settings = await nodeSettings(config);
  if (request.operation === 'create') checkSourcePolicy(parseUserContext(request.context), settings.sources.policy);
  const { withLocalNode } = await import('./local-volume.js');
  const { canonicalStateDir, StateDirInUseError } = await import('../state-dir-lock.js');
  const { createHostVolume, deleteHostVolume } = await import('../adapters/nomad-host/host-volume-operations.js');
  const socket = (await import('../adapters/nomad-host/host-volume-socket.js')).hostVolumeSocketPath(await canonicalStateDir(settings.settings.stateDir));
  let lockDeadline = Math.min(Date.now() + LOCK_WAIT_MS, deadlines.startBy);
  for (;;) {
    refuseIfLate(request, deadlines);
    let inUse: Error;
    try {
      return await withLocalNode(
        configValues(config) as Parameters<typeof withLocalNode>[0],
        async (node, adapter) => {
          const host = { volumes: node.volumesFor(adapter), adapter };
          if (request.operation === 'create') return createHostVolume(host, request, deadlines);
          await deleteHostVolume(host, request, deadlines);
          return undefined;
        },
        { realiseWaitMs: realiseWaitMs(deadlines, Date.now()) },
      );
    } catch (error) {
      if (error instanceof AbortedError) throw notReady(error, 'store paths fetched so far are kept');
      if (!(error instanceof StateDirInUseError)) throw error;
      inUse = error;
    }
    const delegation = await delegate(socket, request, settings.nix.storeUri, deadlines);
    if (delegation.kind === 'answered') return delegation.answer;
    if (delegation.kind === 'lost') {
      // Serve went away mid-call (killed, or stopping): its lock is free soon; this call finishes the work.
      process.stderr.write(`nixmount host-volume ${request.operation}: the nixmount serve at ${socket} went away without answering; doing the work here\n`);
      lockDeadline = Math.max(lockDeadline, Math.min(Date.now() + LOCK_WAIT_MS, deadlines.startBy));
    }
    if (Date.now() >= lockDeadline) throw new Error(`${inUse.message}, and no nixmount serve answers on ${socket}`);
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
  }
}

type Delegated = { kind: 'answered'; answer: Answer } | { kind: 'no-server' } | { kind: 'lost' };

/** Asks the serve that owns the state dir to do the operation; its errors are thrown as this plugin's. */
async function delegate(socket: string, request: HostVolumeRequest, store: string, deadlines: HostVolumeDeadlines): Promise<Delegated> {
  const { askHostVolumeSocket } = await import('../adapters/nomad-host/host-volume-socket.js');
  // Serve answers by an earlier time than this plugin's (serveDeadlines), and undoes a create it finishes later.
  const asked = { operation: request.operation, env: request.env, ...serveDeadlines(deadlines), store };
  const outcome = await askHostVolumeSocket(socket, asked, deadlines.answerBy - Date.now());
  if (outcome.kind !== 'answered') return outcome;
  const answer = outcome.answer;
  if (!answer.ok) {
    if (answer.kind === 'Aborted') throw notReady(new Error(answer.message), 'nixmount serve goes on fetching it');
    throw new Error(answer.message);
  }
  if (request.operation === 'delete') return { kind: 'answered', answer: undefined };
  const created = { path: String(answer.path), bytes: Number(answer.bytes ?? 0) };
  await checkVisible(created.path, socket, request, store);
  return { kind: 'answered', answer: created };
}

/**
 * Nomad bind-mounts the path from the node's mount namespace. A serve in a container
 * mounts in its own, and its mount reaches the node only through a shared mount of the
 * volumes dir; without one the path is an empty directory here. That is refused (and
 * undone), never handed to Nomad.
 */
async function checkVisible(path: string, socket: string, request: HostVolumeRequest, store: string): Promise<void> {
  const { pathMount } = await import('../platform/mountinfo.js');
  const [here, parent] = await Promise.all([pathMount(path), pathMount(dirname(path))]);
  if (here !== undefined && parent !== undefined && here.mountId !== parent.mountId) return;
  const { askHostVolumeSocket } = await import('../adapters/nomad-host/host-volume-socket.js');
  const undoBy = Date.now() + UNDO_MS;
  await askHostVolumeSocket(socket, { operation: 'delete', env: request.env, startBy: undoBy, answerBy: undoBy, store }, UNDO_MS).catch(() => undefined);
  throw new Error(
    `the nixmount serve that owns the state dir mounted ${path} in a mount namespace that does not share it with this node's; ` +
      `give the serve task ${dirname(path)} as a bind mount with shared propagation (docs/nomad.md), or run it in the node's namespace`,
  );
}

/** Past its start-by time a call begins nothing: the answer Nomad waits for must come first. */
function refuseIfLate(request: HostVolumeRequest, deadlines: HostVolumeDeadlines): void {
  const late = Date.now() - deadlines.startBy;
  if (late < 0) return;
  throw new Error(
    `the ${request.operation} could not begin within ${START_BY_MS / 1000} s of the plugin's start (the node's other host volume operations, or a state dir held by another process); nothing was done: run it again`,
  );
}

function notReady(error: Error, kept: string): Error {
  // The work dies with this process (in-process) or goes on in serve; either way a retry picks it up.
  return new Error(
    `the closure was not ready within Nomad's ${NOMAD_KILL_MS / 1000}-second limit for a plugin (${error.message.replace(/; the work continues.*$/, '')}); ` +
      `${kept}: run the create again, or copy the closure to the node first (nix copy)`,
  );
}

