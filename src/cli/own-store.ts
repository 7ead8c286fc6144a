import { realpath } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { readMountInfo } from '../platform/mountinfo.js';
import { createLogger } from '../platform/pino-logger.js';
import { planStoreMount } from '../platform/store-self-bind.js';

export { planStoreMount, type StoreMountPlan } from '../platform/store-self-bind.js';

export const OWN_STORE_USAGE = `usage: nixmount own-store [--store-dir /nix/store] -- COMMAND [ARGS…]

Runs a nixmount command (e.g. serve) after saying how views will reach the store. It
changes no mount, in this namespace or any other. On NixOS /nix/store is a read-only bind
mount of itself; a hardlink from it into the state dir (/nix/var/nixmount) would cross
that mount (EXDEV). Views are linked in a private mount namespace of their own, where a
second, non-recursive bind of the store's parent directory holds store and state dir in
one mount; nothing done there reaches the host, even where the host's / is shared. Every
command does this by itself; own-store stays so that existing job files keep working.`;

/** `nixmount own-store … -- COMMAND…`: reports how views will reach the store, then hands back the command to run. */
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
  // A node without Nix has no store yet (nixmount creates it when it substitutes).
  const storeDir = await realpath(given).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (storeDir === undefined) {
    log.debug({ storeDir: given }, 'no store yet');
    return command;
  }
  const plan = planStoreMount(await readMountInfo(), storeDir);
  if (plan.action === 'self-bind') {
    log.info({ storeDir }, 'the store is a bind mount of itself (NixOS): views are linked in a private mount namespace through a second bind of its parent; no mount here changes');
  } else if (plan.action === 'keep') {
    log.warn({ storeDir, reason: plan.reason }, 'the store is a mount of its own; views will fail with EXDEV if the state dir is outside it');
  }
  return command;
}
