import { access, constants, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { planStoreMount } from '../platform/store-self-bind.js';
import { mountContaining, pathMount, readMountInfo, type MountEntry } from '../platform/mountinfo.js';
import { physicalRoot } from '../platform/nix-settings.js';
import { ok, problem, reason, type Check } from './check.js';
import { nearestExisting } from '../platform/nearest-existing.js';

const NAME = 'state-dir';
const TIMEOUT_MS = 10_000;

function describe(entry: MountEntry | undefined): string {
  return entry ? `${entry.fsType} ${entry.source} at ${entry.mountPoint}` : 'an unknown mount';
}

/**
 * Views are hardlinks into the store, and link(2) never crosses a mount, even between two
 * mounts of one filesystem: the state dir (or, before serve makes it, where it will be made)
 * must be on the very mount the store's files are on. NixOS's read-only bind of /nix/store
 * onto itself is such a second mount; views reach around it (store-link-namespace.ts) when the
 * state dir is on the mount that holds the store's parent directory, and that is fine.
 */
export function stateDirCheck(stateDir: string, storeUri: string): Check {
  const storeDir = join(physicalRoot(storeUri), 'nix/store');
  return {
    name: NAME,
    timeoutMs: TIMEOUT_MS,
    async run() {
      const state = await nearestExisting(stateDir);
      const denied = await access(state.path, constants.W_OK).then(() => undefined, (error: unknown) => reason(error));
      if (denied) {
        return problem(NAME, `${state.exists ? stateDir : `${state.path}, where ${stateDir} would be made,`} is not writable (${denied})`, 'mount the state dir\'s filesystem read-write into the plugin (the DaemonSet\'s /nix hostPath)');
      }
      const store = await nearestExisting(storeDir);
      const [stateReal, storeReal] = await Promise.all([realpath(state.path), realpath(store.path)]);
      const [stateMount, storeMount, stateStat, storeStat] = await Promise.all([pathMount(stateReal), pathMount(storeReal), stat(stateReal), stat(storeReal)]);
      const entries = await readMountInfo();
      const where = state.exists ? stateDir : `${stateDir} (to be made in ${state.path})`;
      if (stateMount?.mountId === storeMount?.mountId) {
        return ok(NAME, `${where} is on the store's mount (${describe(mountContaining(entries, storeReal))}): views can hardlink into ${storeDir}`);
      }
      if (stateStat.dev !== storeStat.dev) {
        return problem(
          NAME,
          `${where} is on ${describe(mountContaining(entries, stateReal))}, another filesystem than ${storeDir} (${describe(mountContaining(entries, storeReal))}); views are hardlinks into the store and cannot cross filesystems`,
          `set --state-dir to a directory on the store's filesystem, e.g. ${join(physicalRoot(storeUri), 'nix/var/nixmount')}`,
        );
      }
      if (store.exists && planStoreMount(entries, storeReal).action === 'self-bind') {
        const parentMount = await pathMount(dirname(storeReal));
        if (parentMount?.mountId === stateMount?.mountId) {
          return ok(NAME, `${storeDir} is a bind mount of itself (as NixOS mounts it) and ${where} is on the mount that holds its directory: views hardlink into it from a private mount namespace, changing no mount here`);
        }
      }
      return problem(
        NAME,
        `${where} is on ${describe(mountContaining(entries, stateReal))}, a different mount of the filesystem that holds ${storeDir} (${describe(mountContaining(entries, storeReal))}); hardlinks cannot cross mounts`,
        `set --state-dir to a directory on the store's own mount, e.g. ${join(physicalRoot(storeUri), 'nix/var/nixmount')}`,
      );
    },
  };
}
