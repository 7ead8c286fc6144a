import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { access, readlink, realpath } from 'node:fs/promises';
import { constants } from 'node:os';
import sea from 'node:sea';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { readMountInfo, type MountEntry } from '../platform/mountinfo.js';
import type { Logger } from '../core/ports/logger.js';
import { createLogger } from '../platform/pino-logger.js';

export const OWN_STORE_USAGE = `usage: nixmount own-store [--store-dir /nix/store] -- COMMAND [ARGS…]

Runs a nixmount command (e.g. serve) after giving this mount namespace a store that views
can hardlink into. On NixOS /nix/store is a read-only bind mount of itself; a hardlink from
it into the state dir (/nix/var/nixmount) crosses that mount and fails with EXDEV, whether
the bind is read-only or not. In this process's own mount namespace only (a container's,
or one made by \`unshare --mount --propagation unchanged\`), own-store detaches that bind
from any propagation peers and unmounts it, so the store is seen through the /nix mount
itself: same files, same inodes, same page cache; the host's mounts do not change.
It unmounts only as a container's init (PID 1) or where its mount namespace is not its
parent's; anywhere else (e.g. Nomad's raw_exec, in the host's namespace) it runs itself
again under \`unshare --mount --propagation unchanged\` first, so the host never changes.
A store that is not a mount point is left alone; so is one that is another filesystem
or directory mounted over it (unmounting that would change what the store holds).`;

export type StoreMountPlan =
  | { action: 'none'; reason: string }
  | { action: 'unmount'; count: number }
  | { action: 'keep'; reason: string };

/** What to do about the mounts at `storeDir`, from the mount table (pure, so it is tested on any table). */
export function planStoreMount(entries: MountEntry[], storeDir: string): StoreMountPlan {
  const stack = entries.filter((e) => e.mountPoint === storeDir);
  if (stack.length === 0) return { action: 'none', reason: `${storeDir} is not a mount point` };
  const parent = entries
    .filter((e) => e.mountPoint !== storeDir && (e.mountPoint === '/' || storeDir.startsWith(`${e.mountPoint}/`)))
    .reduce<MountEntry | undefined>((best, e) => (!best || e.mountPoint.length >= best.mountPoint.length ? e : best), undefined);
  if (!parent) return { action: 'keep', reason: `no mount holds the directory under ${storeDir}` };
  const covered = join(parent.root, relative(parent.mountPoint === '/' ? '/' : parent.mountPoint, storeDir));
  for (const entry of stack) {
    const selfBind = entry.device === parent.device && entry.source === parent.source && entry.fsType === parent.fsType && entry.root === covered;
    if (!selfBind) {
      return {
        action: 'keep',
        reason: `${storeDir} is ${entry.fsType} ${entry.source}:${entry.root} mounted over ${parent.source}:${covered}, not a bind of that directory itself; views cannot hardlink into it`,
      };
    }
  }
  return { action: 'unmount', count: stack.length };
}

/**
 * True when unmounting here cannot touch the host: we are a container's init (PID 1), or our
 * mount namespace is not our parent's (`unshare --mount` made it). Anything else, or a namespace
 * we cannot read, counts as the host's: own-store would rather refuse than guess.
 */
async function inOwnMountNamespace(): Promise<boolean> {
  if (process.pid === 1) return true;
  const namespace = (pid: number | 'self') => readlink(`/proc/${pid}/ns/mnt`).catch(() => undefined);
  const [self, parent] = await Promise.all([namespace('self'), namespace(process.ppid)]);
  return self !== undefined && parent !== undefined && self !== parent;
}

/** `nixmount own-store … -- COMMAND…`: prepares the store mount, then hands back the command to run. */
export async function ownStore(argv: string[]): Promise<string[]> {
  const split = argv.indexOf('--');
  const { values } = parseArgs({
    args: split === -1 ? argv : argv.slice(0, split),
    options: { 'store-dir': { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  const command = split === -1 ? [] : argv.slice(split + 1);
  if (values.help || command.length === 0) {
    (values.help ? console.log : console.error)(OWN_STORE_USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const log = createLogger({ level: values['log-level'] ?? process.env.NIXMOUNT_LOG_LEVEL ?? 'info' });
  const given = values['store-dir'] ?? '/nix/store';
  // A node without Nix has no store yet (nixmount creates it when it substitutes): nothing to unmount.
  const storeDir = await realpath(given).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (storeDir === undefined) {
    log.debug({ storeDir: given }, 'no store yet; nothing to do');
    return command;
  }
  const plan = planStoreMount(await readMountInfo(), storeDir);
  if (plan.action === 'none') {
    log.debug({ storeDir }, 'the store is not a mount of its own; nothing to do');
  } else if (plan.action === 'keep') {
    log.warn({ storeDir, reason: plan.reason }, 'the store is a mount of its own and stays mounted; views will fail with EXDEV if the state dir is outside it');
  } else {
    if (!(await inOwnMountNamespace())) return rerunUnshared(argv, storeDir, log);
    for (let i = 0; i < plan.count; i++) {
      // Private first: an unmount of a mount with propagation peers (rshared binds) would reach the host's.
      await execa('mount', ['--make-private', storeDir]);
      await execa('umount', [storeDir]);
    }
    const after = planStoreMount(await readMountInfo(), storeDir);
    if (after.action !== 'none') throw new Error(`own-store: ${storeDir} is still a mount point after unmounting ${plan.count}`);
    log.info({ storeDir, unmounted: plan.count }, 'unmounted the store\'s bind of itself in this mount namespace only (the host keeps it): views can hardlink into the store');
  }
  return command;
}

const RERUN_MARK = 'NIXMOUNT_OWN_STORE_RERUN';
/** Where util-linux's unshare lives on Debian-like systems and on NixOS, if PATH does not say. */
const UNSHARE_FALLBACKS = ['/usr/bin/unshare', '/bin/unshare', '/run/current-system/sw/bin/unshare'];

async function findUnshare(): Promise<string | undefined> {
  const candidates = [...(process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => `${dir}/unshare`), ...UNSHARE_FALLBACKS];
  for (const candidate of candidates) if (await access(candidate).then(() => true, () => false)) return candidate;
  return undefined;
}

/**
 * Outside a container (Nomad's raw_exec runs tasks in the host's mount namespace), own-store
 * runs itself again under `unshare --mount --propagation unchanged`: a namespace of its own,
 * whose other mounts stay peers of the host's, so publishes still reach the host. This
 * process waits, passing signals on, and exits as the child does.
 */
async function rerunUnshared(argv: string[], storeDir: string, log: Logger): Promise<never> {
  const unshare = await findUnshare();
  if (process.env[RERUN_MARK] || !unshare) {
    throw new Error(
      `own-store: ${storeDir} is a bind mount of itself (NixOS), and this process is neither a container's init nor in a mount namespace ` +
        `of its own (it shares its parent's), so unmounting it here could change the host; ${unshare ? 'running under unshare did not give it one' : 'and util-linux unshare was not found'}. ` +
        'Run it as a container\'s command, or under `unshare --mount --propagation unchanged`',
    );
  }
  // A single executable is its own script; under node, the script is argv[1].
  const self = sea.isSea() ? [process.execPath] : [process.execPath, ...process.execArgv, process.argv[1]!];
  log.info({ storeDir, unshare }, 'the store is a bind mount of itself and this is the host\'s mount namespace: running again in a namespace of its own');
  const child = spawn(unshare, ['--mount', '--propagation', 'unchanged', '--', ...self, 'own-store', ...argv], {
    stdio: 'inherit',
    env: { ...process.env, [RERUN_MARK]: '1' },
  });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  return new Promise<never>((_, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}
