import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { hostVolumeRequest, parseOperation, type HostVolumeRequest } from '../adapters/nomad-host/host-volume-request.js';
import { readHostVolumeConfig } from '../adapters/nomad-host/host-volume-config.js';
import { AbortedError } from '../core/errors.js';
import { parseUserContext } from '../core/volume-context.js';
import { optionsOf, parseCommandLine } from '../settings/command-line.js';
import type { PublishValues } from '../settings/commands.js';
import { PLUGIN_OPTIONS } from '../settings/plugin-options.js';
import { packageVersion } from '../settings/version.js';

/**
 * `nixmount host-volume <fingerprint|create|delete>`: nixmount as a Nomad dynamic host
 * volume plugin. Nomad runs the plugin (normally the wrapper `host-volume install`
 * writes) with the operation as its argument and DHV_* variables, reads JSON from
 * stdout, and shows the user the `error` of that JSON when the exit status is not 0;
 * stderr only reaches the client's debug log. Create and delete run the same
 * pipeline as `nixmount publish`/`unpublish` on the node's one state dir: in this
 * process when no `nixmount serve` holds it, else in that serve (see `operate`).
 */

const USAGE = `usage: nixmount host-volume [--config FILE] <fingerprint|create|delete>   (run by the Nomad client)
       nixmount host-volume install --plugin-dir DIR [--name nixmount] [--config FILE] [--lock-file FILE]`;

// Nomad runs plugins with no PATH at all; Nix, mount and setpriv are looked up in it.
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/nix/var/nix/profiles/default/bin:/run/current-system/sw/bin';

// A `nixmount publish` by hand may hold the state dir briefly; a running `nixmount serve` holds it for good.
const LOCK_WAIT_MS = 10_000;

// Nomad kills create and delete at 60 s (SIGKILL: no rollback, and a failed create is
// never deleted by Nomad). nixmount gives up on its own well before, counted from when
// the wrapper started (before it queued), so a slow substitution fails cleanly.
const BUDGET_MS = 50_000;
// What the rest of a create needs after the closure is realised: the view, the record, the mount.
const AFTER_REALISE_MS = 10_000;
const MIN_REALISE_WAIT_MS = 1_000;

// The node config takes `nixmount publish`'s node-wide options; what names a volume comes from Nomad.
const PER_VOLUME = new Set(['target', 'paths', 'context', 'read-write', 'volume-id', 'refresh']);
const CONFIG_OPTIONS = optionsOf('publish', PLUGIN_OPTIONS).filter(([, spec]) => !PER_VOLUME.has(spec.flag));
const CONFIG_KEYS = CONFIG_OPTIONS.map(([, spec]) => spec.flag);

/** The node config's strings read as `publish` reads its flags (no environment: Nomad gives plugins none of it). */
function configValues(config: Record<string, string>): Partial<PublishValues> {
  const argv = Object.entries(config).map(([key, value]) => `--${key}=${value}`);
  return parseCommandLine(CONFIG_OPTIONS, argv, {}).values as Partial<PublishValues>;
}

/** One line, bounded: Nomad prints it inside its own error message. */
export function oneLine(message: string): string {
  const line = message.split('\n').map((part) => part.trim()).filter((part) => part.length > 0).join(' | ');
  return line.length <= 2000 ? line : `${line.slice(0, 2000)}… (${line.length - 2000} more characters)`;
}

interface Budget {
  /** Epoch ms by which nixmount answers, failed or not. */
  deadline: number;
}

// How much longer than its own deadline the plugin waits for a serve's answer (serve bounds its wait the same way).
const ANSWER_MARGIN_MS = 5_000;

type Answer = { path: string; bytes: number } | undefined;

/** The node config as the pipeline's settings (defaults for what it leaves out, as `nixmount publish`). */
async function nodeSettings(config: Record<string, string>) {
  const { pluginSettings } = await import('../settings/plugin-settings.js');
  const { defaultValues } = await import('../settings/command-line.js');
  return pluginSettings({ ...defaultValues(optionsOf('publish', PLUGIN_OPTIONS)), ...configValues(config) } as Parameters<typeof pluginSettings>[0]);
}

/**
 * Runs create or delete on the node's state dir. Exactly one process mutates a state
 * dir: this one when it can take the lock, else the `nixmount serve` holding it, asked
 * over its private socket in the state dir. When neither works (a `nixmount publish` by
 * hand holds the lock, or serve is starting, stopping or died mid-call) it waits and
 * tries again; a dead owner's lock is taken over and the start-up recovery repairs
 * what it left, so the same call completes.
 */
async function operate(request: HostVolumeRequest, config: Record<string, string>, budget: Budget): Promise<Answer> {
  // Checked before the state dir is touched: a bad volume leaves nothing behind. The node
  // config's source policy holds on both routes (a serve applies its own as well).
  const { checkSourcePolicy } = await import('../core/source-settings.js');
  const settings = await nodeSettings(config);
  if (request.operation === 'create') checkSourcePolicy(parseUserContext(request.context), settings.sources.policy);
  const { withLocalNode } = await import('./local-volume.js');
  const { canonicalStateDir, StateDirInUseError } = await import('../state-dir-lock.js');
  const { createHostVolume, deleteHostVolume } = await import('../adapters/nomad-host/host-volume-operations.js');
  const { VolumePublisher } = await import('../core/volume-publisher.js');
  const socket = (await import('../adapters/nomad-host/host-volume-socket.js')).hostVolumeSocketPath(await canonicalStateDir(settings.settings.stateDir));
  let lockDeadline = Math.min(Date.now() + LOCK_WAIT_MS, budget.deadline - AFTER_REALISE_MS);
  for (;;) {
    const realiseWaitMs = Math.max(MIN_REALISE_WAIT_MS, budget.deadline - AFTER_REALISE_MS - Date.now());
    let inUse: Error;
    try {
      return await withLocalNode(
        configValues(config) as Parameters<typeof withLocalNode>[0],
        async (container, adapter) => {
          const node = { publisher: container.get(VolumePublisher), adapter };
          if (request.operation === 'create') return createHostVolume(node, request, realiseWaitMs);
          await deleteHostVolume(node, request);
          return undefined;
        },
        { realiseWaitMs },
      );
    } catch (error) {
      if (error instanceof AbortedError) throw notReady(error, 'store paths fetched so far are kept');
      if (!(error instanceof StateDirInUseError)) throw error;
      inUse = error;
    }
    const delegation = await delegate(socket, request, settings.nix.storeUri, budget, realiseWaitMs);
    if (delegation.kind === 'answered') return delegation.answer;
    if (delegation.kind === 'lost') {
      // Serve went away mid-call (killed, or stopping): its lock is free soon; this call finishes the work.
      process.stderr.write(`nixmount host-volume ${request.operation}: the nixmount serve at ${socket} went away without answering; doing the work here\n`);
      lockDeadline = Math.max(lockDeadline, Math.min(Date.now() + LOCK_WAIT_MS, budget.deadline - AFTER_REALISE_MS));
    }
    if (Date.now() >= lockDeadline) throw new Error(`${inUse.message}, and no nixmount serve answers on ${socket}`);
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
  }
}

type Delegated = { kind: 'answered'; answer: Answer } | { kind: 'no-server' } | { kind: 'lost' };

/** Asks the serve that owns the state dir to do the operation; its errors are thrown as this plugin's. */
async function delegate(socket: string, request: HostVolumeRequest, store: string, budget: Budget, realiseWaitMs: number): Promise<Delegated> {
  const { askHostVolumeSocket } = await import('../adapters/nomad-host/host-volume-socket.js');
  const outcome = await askHostVolumeSocket(socket, { operation: request.operation, env: request.env, realiseWaitMs, store }, budget.deadline + ANSWER_MARGIN_MS - Date.now());
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
  await askHostVolumeSocket(socket, { operation: 'delete', env: request.env, realiseWaitMs: 0, store }, 20_000).catch(() => undefined);
  throw new Error(
    `the nixmount serve that owns the state dir mounted ${path} in a mount namespace that does not share it with this node's; ` +
      `give the serve task ${dirname(path)} as a bind mount with shared propagation (docs/nomad.md), or run it in the node's namespace`,
  );
}

function notReady(error: Error, kept: string): Error {
  // The work dies with this process (in-process) or goes on in serve; either way a retry picks it up.
  return new Error(
    `the closure was not ready within Nomad's 60-second limit for a plugin (${error.message.replace(/; the work continues.*$/, '')}); ` +
      `${kept}: run the create again, or copy the closure to the node first (nix copy)`,
  );
}

/** The wrapper passes when it started (epoch seconds), before it queued for the lock. */
function budgetFrom(startedAt: string | undefined): Budget {
  const started = startedAt !== undefined && /^\d+$/.test(startedAt) ? Number(startedAt) * 1000 : Date.now() - process.uptime() * 1000;
  return { deadline: started + BUDGET_MS };
}

async function install(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'plugin-dir': { type: 'string' },
      name: { type: 'string' },
      config: { type: 'string' },
      'lock-file': { type: 'string' },
    },
    strict: true,
  });
  if (!values['plugin-dir']) throw new Error('--plugin-dir is required (the Nomad client\'s host_volume_plugin_dir, by default <data_dir>/host_volume_plugins)');
  const { installWrapper } = await import('./host-volume-wrapper.js');
  const file = await installWrapper({
    pluginDir: values['plugin-dir'],
    name: values.name ?? 'nixmount',
    config: values.config,
    lockFile: values['lock-file'],
    path: process.env.PATH ?? FALLBACK_PATH,
  });
  console.error(`wrote ${file}; reload the Nomad client (SIGHUP) so it fingerprints the plugin`);
}

export async function hostVolume(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  if (argv[0] === 'install') return install(argv.slice(1));
  let operation: string | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, 'started-at': { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    const budget = budgetFrom(values['started-at']);
    const op = parseOperation(positionals, process.env);
    operation = op;
    if (op === 'fingerprint') {
      // Nomad gives fingerprint 5 seconds and no other variable: no state, no config.
      process.stdout.write(`${JSON.stringify({ version: packageVersion() })}\n`);
      return;
    }
    process.env.PATH ??= FALLBACK_PATH;
    const request = hostVolumeRequest(op, process.env);
    // No process stays behind to collect a view later, so by default a view goes with its last volume.
    const config = { 'view-idle': '0', ...(await readHostVolumeConfig(values.config, CONFIG_KEYS)) };
    if (request.createdPath !== undefined && request.createdPath !== request.path) {
      // Nomad's cleanup after a failed state save passes its volumes dir here (see hostVolumeRequest).
      process.stderr.write(`nixmount host-volume delete: DHV_CREATED_PATH ${request.createdPath} is not ${request.path}; only the latter is this volume's\n`);
    }
    const answer = await operate(request, config, budget);
    if (op === 'create') process.stdout.write(`${JSON.stringify(answer)}\n`);
  } catch (error) {
    const message = oneLine(error instanceof Error ? error.message : String(error));
    // Nomad (≥ 1.10) shows stdout's "error" to the user; stderr goes to its debug log.
    process.stdout.write(`${JSON.stringify({ error: message })}\n`);
    process.stderr.write(`nixmount host-volume${operation ? ` ${operation}` : ''}: ${message}\n`);
    if (operation === undefined) process.stderr.write(`${USAGE}\n`);
    process.exitCode = operation === undefined ? 2 : 1;
  }
  // Nomad reads the answer when the process ends; a Nix child still substituting
  // (after the wait ran out) must not keep it alive. Children die with it (pdeathsig).
  process.exit();
}
