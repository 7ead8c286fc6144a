import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WRAPPER_LOCK_WAIT_S } from '../adapters/nomad-host/host-volume-deadlines.js';
import { fingerprintAnswer } from '../adapters/nomad-host/host-volume-request.js';
import { packageVersion } from '../settings/version.js';

export const DEFAULT_LOCK_FILE = '/run/nixmount-host-volume.lock';

export interface WrapperOptions {
  pluginDir: string;
  /** The file name, which is the `plugin_id` volume specs name. */
  name: string;
  config?: string;
  lockFile?: string;
  /** PATH for Nix, mount and setpriv: Nomad runs plugins with none. */
  path: string;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The executable Nomad calls. It names node and nixmount by absolute path and sets
 * PATH, since Nomad passes only DHV_* variables. Fingerprint is answered by the shell
 * itself, from the version this install wrote in (the line `nixmount host-volume
 * fingerprint` prints): Nomad allows it 1 s, which starting Node on a loaded node can
 * miss, and a reinstall after an upgrade writes the new version. Anything else
 * fingerprint-like (extra arguments, a DHV_OPERATION that disagrees) goes to nixmount,
 * which refuses it as it would. Create and delete queue on a kernel lock: Nomad runs
 * them concurrently for different volumes, and nixmount's state dir has one owner at a
 * time. The shell takes the lock on a descriptor and then execs node, so the process
 * Nomad kills at its deadline is nixmount itself (not a `flock` parent that would leave
 * it running), and the lock goes with it.
 */
export function wrapperScript(
  options: Omit<WrapperOptions, 'pluginDir'>,
  node = process.execPath,
  cli = fileURLToPath(new URL('../cli.js', import.meta.url)),
  version = packageVersion(),
): string {
  const command = [node, cli, 'host-volume', ...(options.config ? ['--config', options.config] : [])].map(shellQuote).join(' ');
  const lockFile = options.lockFile ?? DEFAULT_LOCK_FILE;
  const busy = `waited ${WRAPPER_LOCK_WAIT_S} s for other nixmount host volume operations on this node (lock ${lockFile}); retry`;
  return [
    '#!/bin/sh',
    `# Nomad dynamic host volume plugin "${options.name}" (plugin_id = "${options.name}"),`,
    '# written by `nixmount host-volume install`. Rerun that command after moving nixmount.',
    `PATH=${shellQuote(options.path)}`,
    'export PATH',
    'if [ "$#" = 1 ] && [ "$1" = fingerprint ] && { [ -z "${DHV_OPERATION-}" ] || [ "$DHV_OPERATION" = fingerprint ]; }; then',
    `  printf '%s\n' ${shellQuote(fingerprintAnswer(version).trimEnd())}`,
    '  exit 0',
    'fi',
    'if [ "$1" = fingerprint ]; then',
    `  exec ${command} "$@"`,
    'fi',
    'started=$(date +%s)',
    `exec 9>>${shellQuote(lockFile)}`,
    `if ! flock --timeout ${WRAPPER_LOCK_WAIT_S} 9; then`,
    `  printf '%s\\n' ${shellQuote(JSON.stringify({ error: busy }))}`,
    `  printf 'nixmount host-volume %s: %s\\n' "$1" ${shellQuote(busy)} >&2`,
    '  exit 75',
    'fi',
    `exec ${command} --started-at "$started" "$@"`,
    '',
  ].join('\n');
}

export async function installWrapper(options: WrapperOptions): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(options.name)) throw new Error(`--name "${options.name}" is not a plain file name`);
  await mkdir(options.pluginDir, { recursive: true });
  const file = join(options.pluginDir, options.name);
  const temp = `${file}.tmp-${process.pid}`;
  await writeFile(temp, wrapperScript(options), { mode: 0o755 });
  await chmod(temp, 0o755);
  await rename(temp, file);
  return file;
}
