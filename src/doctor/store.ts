import { access, constants, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { planStoreMount } from '../platform/store-self-bind.js';
import { readMountInfo } from '../platform/mountinfo.js';
import { nixConfig, physicalRoot, type NixSettings } from '../platform/nix-settings.js';
import type { ProcessRunner } from '../platform/process-runner.js';
import { ok, problem, reason, type Check } from './check.js';
import { nearestExisting } from '../platform/nearest-existing.js';
import { onPath } from '../platform/on-path.js';

const NAME = 'store';
const TIMEOUT_MS = 20_000;

async function writable(path: string): Promise<string | undefined> {
  return access(path, constants.W_OK).then(() => undefined, (error: unknown) => reason(error));
}

/**
 * The store's directory can be listed, Nix's state beside it (database, GC roots, where
 * nixmount roots its views) can be written, and Nix opens the store. A store not made yet
 * is fine where it can be made: Nix creates it at the first realisation.
 */
export function storeCheck(runner: ProcessRunner, settings: NixSettings): Check {
  const root = physicalRoot(settings.storeUri);
  const storeDir = join(root, 'nix/store');
  const nixState = join(root, 'nix/var/nix');
  const shown = settings.storeUri ? `${storeDir} (--store ${settings.storeUri})` : storeDir;
  return {
    name: NAME,
    timeoutMs: TIMEOUT_MS,
    async run() {
      const anchor = await nearestExisting(storeDir);
      if (!anchor.exists) {
        const denied = await writable(anchor.path);
        if (denied) return problem(NAME, `${storeDir} does not exist and cannot be created (${anchor.path}: ${denied})`, `make ${anchor.path} writable, or point --store at the node's store`);
        return ok(NAME, `${storeDir} does not exist yet; Nix creates it at the first realisation (${anchor.path} is writable)`);
      }
      try {
        const dir = await opendir(storeDir);
        await dir.read();
        await dir.close();
      } catch (error) {
        return problem(NAME, `cannot list ${shown}: ${reason(error)}`, 'the plugin runs as root and must read the store: mount the node\'s /nix into it (hostPath /nix) read-write');
      }
      const state = await nearestExisting(nixState);
      const stateDenied = await writable(state.path);
      if (stateDenied) {
        return problem(NAME, `${state.path} is not writable (${stateDenied}): Nix cannot record what it substitutes, nor nixmount root its views`, 'mount the node\'s /nix into the plugin read-write');
      }
      const storeDenied = await writable(storeDir);
      let note = '';
      if (storeDenied === 'EROFS') {
        // NixOS mounts the store as a read-only bind of itself; Nix (as root) writes through a remount
        // of its own, and views reach around the bind (store-link-namespace.ts).
        const plan = planStoreMount(await readMountInfo(), storeDir);
        if (plan.action !== 'self-bind') return problem(NAME, `${shown} is on a read-only filesystem`, 'mount the node\'s /nix into the plugin read-write');
        note = ' (a read-only bind of itself, as NixOS mounts it: Nix writes through its own remount)';
      } else if (storeDenied) {
        return problem(NAME, `${shown} is not writable (${storeDenied})`, 'run the plugin as root with the node\'s /nix mounted read-write');
      }
      if (!(await nearestExisting(join(nixState, 'db'))).exists) return ok(NAME, `${shown} is readable and writable${note}; Nix has not used it yet`);
      if (onPath('nix') === undefined) return ok(NAME, `${shown} is readable and writable${note}; not opened with Nix, which is missing (see the nix check)`);
      const args = ['store', 'ping', ...(settings.storeUri ? ['--store', settings.storeUri] : [])];
      const ping = await runner.run('nix', args, { env: { NIX_CONFIG: nixConfig(settings) }, timeoutMs: TIMEOUT_MS - 2_000, allowFailure: true }).catch((error: unknown) => ({
        exitCode: -1,
        stdout: '',
        stderr: reason(error),
      }));
      if (ping.exitCode !== 0) {
        const said = ping.stderr.trim().split('\n').pop() || `exit ${ping.exitCode}`;
        return problem(NAME, `Nix cannot open ${shown}: ${said}`, 'run `nix store ping` with the same --store on the node and fix what it says');
      }
      return ok(NAME, `${shown} is readable and writable${note}, and Nix opens it`);
    },
  };
}
