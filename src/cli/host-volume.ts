import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { hostVolumeRequest, parseOperation, type HostVolumeRequest } from '../adapters/nomad-host/host-volume-request.js';
import { readHostVolumeConfig } from '../adapters/nomad-host/host-volume-config.js';
import { AbortedError, AlreadyExistsError } from '../core/errors.js';
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
 * in-process pipeline as `nixmount publish`/`unpublish`, on the same state dir as
 * `nixmount serve`.
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

async function create(request: HostVolumeRequest, config: Record<string, string>, budget: Budget): Promise<{ path: string; bytes: number }> {
  // Parameters are checked before the state dir is touched: a bad volume leaves nothing behind.
  parseUserContext(request.context);
  const { VolumePublisher } = await import('../core/volume-publisher.js');
  const target = await withNode(config, budget, async (container, adapter) => {
    // The canonical path the node's adapter accepts (the adapter of `withLocalNode`, as for `nixmount publish`).
    const target = adapter.checkTargetPath(request.path);
    // The client's volumes dir is Nomad's to name but may not exist yet (its own mkdir plugin creates parents too).
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    await container
      .get(VolumePublisher)
      .publish({
        volumeId: request.volumeId,
        targetPath: target,
        readonly: request.readonly,
        // Nomad bind-mounts the path into each task itself; nixmount's mount is one per volume.
        accessMode: request.readonly ? 'single-node-reader-only' : 'single-node-writer',
        mountFlags: [],
        spec: adapter.parseVolumeContext(request.context).spec,
      })
      .catch((error: unknown) => {
        if (!(error instanceof AlreadyExistsError)) throw error;
        // A spec changed under the same id: tasks may hold the old mount, so nothing is swapped under them.
        throw new Error(
          `volume ${request.volumeId} already exists on this node with other parameters (${error.message}); nixmount does not change a volume in place: delete it and create it again`,
        );
      });
    return target;
  });
  // A Nix volume has no capacity of its own (the controller reports 0 too).
  return { path: target, bytes: 0 };
}

async function remove(request: HostVolumeRequest, config: Record<string, string>, budget: Budget): Promise<void> {
  const { VolumePublisher } = await import('../core/volume-publisher.js');
  if (request.createdPath !== undefined && request.createdPath !== request.path) {
    // Nomad's cleanup after a failed state save passes its volumes dir here (see hostVolumeRequest).
    process.stderr.write(`nixmount host-volume delete: DHV_CREATED_PATH ${request.createdPath} is not ${request.path}; only the latter is this volume's\n`);
  }
  // Absent (never created, or deleted before) is success: delete must be idempotent.
  await withNode(config, budget, async (container, adapter) => {
    const target = adapter.checkTargetPath(request.path);
    await container.get(VolumePublisher).unpublish(request.volumeId, target);
  });
}

async function withNode<T>(
  config: Record<string, string>,
  budget: Budget,
  work: Parameters<typeof import('./local-volume.js').withLocalNode<T>>[1],
): Promise<T> {
  const { withLocalNode } = await import('./local-volume.js');
  const { StateDirInUseError } = await import('../state-dir-lock.js');
  const lockDeadline = Math.min(Date.now() + LOCK_WAIT_MS, budget.deadline - AFTER_REALISE_MS);
  for (;;) {
    const realiseWaitMs = Math.max(MIN_REALISE_WAIT_MS, budget.deadline - AFTER_REALISE_MS - Date.now());
    try {
      return await withLocalNode(configValues(config) as Parameters<typeof withLocalNode>[0], work, { realiseWaitMs });
    } catch (error) {
      if (error instanceof AbortedError) {
        // The work dies with this process; what Nix finished substituting stays in the store.
        throw new Error(
          `the closure was not ready within Nomad's 60-second limit for a plugin (${error.message.replace(/; the work continues.*$/, '')}); ` +
            'store paths fetched so far are kept: run the create again, or copy the closure to the node first (nix copy)',
        );
      }
      if (!(error instanceof StateDirInUseError) || Date.now() >= lockDeadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
    }
  }
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
    if (op === 'create') {
      process.stdout.write(`${JSON.stringify(await create(request, config, budget))}\n`);
    } else {
      await remove(request, config, budget);
    }
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
