import { parseArgs } from 'node:util';
import { fingerprintAnswer, hostVolumeRequest, parseOperation } from '../adapters/nomad-host/host-volume-request.js';
import { pluginDeadlines, type HostVolumeDeadlines } from '../adapters/nomad-host/host-volume-deadlines.js';
import { readHostVolumeConfig } from '../adapters/nomad-host/host-volume-config.js';
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

/** One line, bounded: Nomad prints it inside its own error message. */
export function oneLine(message: string): string {
  const line = message.split('\n').map((part) => part.trim()).filter((part) => part.length > 0).join(' | ');
  return line.length <= 2000 ? line : `${line.slice(0, 2000)}… (${line.length - 2000} more characters)`;
}

/**
 * The wrapper passes when it started (epoch seconds), before it queued for the lock, so
 * the budgets count Nomad's clock (see host-volume-deadlines). The wrapper ran before
 * this process: a later or malformed value (a clock stepped back, a hand-typed flag)
 * counts as this process's start, which never lengthens the budget.
 */
function deadlinesFrom(startedAt: string | undefined): HostVolumeDeadlines {
  const processStart = Date.now() - process.uptime() * 1000;
  const given = startedAt !== undefined && /^\d{1,12}$/.test(startedAt) ? Number(startedAt) * 1000 : undefined;
  return pluginDeadlines(given, processStart);
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
    const deadlines = deadlinesFrom(values['started-at']);
    const op = parseOperation(positionals, process.env);
    operation = op;
    if (op === 'fingerprint') {
      // The wrapper answers this itself (Nomad allows it 1 s); here for a plugin run without it. No state, no config.
      process.stdout.write(fingerprintAnswer(packageVersion()));
      return;
    }
    process.env.PATH ??= FALLBACK_PATH;
    const request = hostVolumeRequest(op, process.env);
    // Working alone, no process stays behind to collect a view later, so by default a
    // view goes with its last volume (a serve doing the work applies its own view-idle).
    const { CONFIG_KEYS, operate } = await import('./host-volume-run.js');
    const config = { 'view-idle': '0', ...(await readHostVolumeConfig(values.config, CONFIG_KEYS)) };
    if (request.createdPath !== undefined && request.createdPath !== request.path) {
      // Nomad's cleanup after a failed state save passes its volumes dir here (see hostVolumeRequest).
      process.stderr.write(`nixmount host-volume delete: DHV_CREATED_PATH ${request.createdPath} is not ${request.path}; only the latter is this volume's\n`);
    }
    const answer = await operate(request, config, deadlines);
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
