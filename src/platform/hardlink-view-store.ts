import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { inject, injectable } from 'inversify';
import { FailedPreconditionError, CommandFailedError, UnavailableError } from '../core/errors.js';
import { ProcessRunner } from './process-runner.js';
import { MountHelper } from './mount-helper.js';
import { buildBindFarm, isBindFarm, repairBindFarm, restoreBindFarm, unmountBindFarm } from './bind-farm.js';
import { StoreLinkNamespace } from './store-link-namespace.js';
import type { SweepResult, ViewContents, ViewStore } from '../core/ports/view-store.js';
import { NodeSettings } from '../core/settings.js';
import { storePathName } from '../core/store-path.js';

const BUILDING = '.building-';
const DELETING = '.deleting-';
// cp gets the store paths in batches so a closure of thousands never exceeds ARG_MAX.
const CP_BATCH = 500;
// cp processes linking one view at once: linking is kernel time in distinct directories,
// which spreads over idle cores (one per core; more only competed on a busy 2-core node).
const LINKERS = Math.min(4, Math.max(2, availableParallelism()));
const CHUNKS_PER_LINKER = 3;
// A leftover that an orphaned writer (a killed plugin's child) still fills: a few quick retries, then the next sweep.
const SWEEP_TRIES = 5;
const SWEEP_PAUSE_MS = 100;

/**
 * Views under <state>/views/<key>, built under a dot-name and renamed into place, in
 * one of two presentations (view-presentation.ts):
 * - hardlinks: `cp -al` recreates each store path's directories and hardlinks its
 *   files, so every file shares its inode (and page cache) with the node store;
 * - a bind farm (bind-farm.ts): one read-only bind per store path, made by the mount
 *   helper in this process's mount namespace, where the volumes' mounts are; the files
 *   are the store's own. Its binds are unmounted before its directory is ever removed
 *   (after a failed build, on removal, and for leftovers a crash left).
 */
@injectable()
export class HardlinkViewStore implements ViewStore {
  private readonly dir: string;
  /** Directories this process is building or removing right now: never leftovers. */
  private readonly busy = new Set<string>();
  private farmsChecked = false;

  constructor(
    @inject(NodeSettings) settings: NodeSettings,
    @inject(ProcessRunner) private readonly runner: ProcessRunner,
    @inject(MountHelper) private readonly helper: MountHelper,
  ) {
    this.dir = join(settings.stateDir, 'views');
  }

  private readonly linkNamespace = new StoreLinkNamespace();

  nixDir(key: string): string {
    return join(this.dir, key, 'nix');
  }

  /**
   * A complete view: its directory, and its `nix/var/result`, which every view has from
   * before it becomes visible. A directory without it lost its files from under it (its
   * state dir's contents removed while volumes were mounted from it): not used as it is,
   * but made whole again by the next materialize (see repairInPlace).
   */
  async exists(key: string): Promise<boolean> {
    try {
      return (await lstat(join(this.dir, key))).isDirectory() && (await lstat(join(this.nixDir(key), 'var/result')).then(() => true, () => false));
    } catch {
      return false;
    }
  }

  /** A view directory is there, but not complete. */
  private async damaged(key: string): Promise<boolean> {
    const isDir = await lstat(join(this.dir, key)).then((stats) => stats.isDirectory(), () => false);
    return isDir && !(await this.exists(key));
  }

  async materialize(key: string, contents: ViewContents): Promise<void> {
    if (await this.damaged(key)) return this.repairInPlace(key, contents);
    const building = join(this.dir, `${BUILDING}${key}-${randomBytes(4).toString('hex')}`);
    const store = join(building, 'nix/store');
    const farm = contents.presentation === 'bind-farm';
    let renamed = false;
    this.busy.add(building);
    try {
      // One level at a time: a recursive mkdir on a read-only file system says ENOENT, not EROFS.
      await mkdir(this.dir, { recursive: true });
      for (const dir of [building, join(building, 'nix'), store, join(building, 'nix/var')]) await mkdir(dir);
      // Linking (several cp at once), the registration (two Nix processes, writing only
      // nix/var/nix/db) and the result links touch disjoint things, so they overlap; all
      // are awaited before anything is cleaned up. The closure is rooted by the caller
      // before this starts.
      const steps = await Promise.allSettled([
        farm ? buildBindFarm(this.helper, building, contents.paths.map((path) => path.physicalPath)) : this.hardlinkAll(contents, store),
        contents.register(building),
        this.linkResult(join(building, 'nix/var/result'), contents.roots),
      ]);
      const failed = steps.find((step): step is PromiseRejectedResult => step.status === 'rejected');
      if (failed) throw failed.reason;
      renamed = await rename(building, join(this.dir, key)).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          // Another process finished the same view first; it is identical.
          if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
          return false;
        },
      );
    } finally {
      // Nothing left after the rename; everything after a failure, a farm's binds first
      // (if they cannot all be proven ours and unmounted, the directory stays for a sweep).
      const unmounted = !farm || renamed || (await unmountBindFarm(this.helper, building).then(() => true, () => false));
      if (unmounted) await rm(building, { recursive: true, force: true });
      this.busy.delete(building);
    }
  }

  /**
   * Makes a damaged view whole in its own directory, which live volumes may still be
   * mounted from (a bind farm's store directories survive a wipe as the mount points of
   * those volumes' copies): in place, so those mounts stay provably the view's. Its binds
   * in this namespace come off, the mount points, Nix database and farm are made again,
   * and `nix/var/result` last, which makes the view complete. A hardlink view cannot be
   * relinked under an overlay that may use it: that publish waits until it is unused.
   */
  private async repairInPlace(key: string, contents: ViewContents): Promise<void> {
    const dir = join(this.dir, key);
    if (contents.presentation !== 'bind-farm') {
      throw new UnavailableError(`view ${key} lost its files (${dir} is incomplete: was the state directory's content removed?) and may still be used by a mounted volume; it is rebuilt once those volumes are unpublished`);
    }
    this.busy.add(dir);
    try {
      await restoreBindFarm(this.helper, dir, contents.paths.map((path) => path.physicalPath));
      await rm(join(dir, 'nix/var'), { recursive: true, force: true });
      await mkdir(join(dir, 'nix/var'));
      await contents.register(dir);
      await repairBindFarm(this.helper, dir);
      await this.linkResult(join(dir, 'nix/var/result'), contents.roots);
    } finally {
      this.busy.delete(dir);
    }
  }

  async remove(key: string): Promise<void> {
    const doomed = join(this.dir, `${DELETING}${key}-${randomBytes(4).toString('hex')}`);
    this.busy.add(doomed);
    try {
      await rename(join(this.dir, key), doomed); // from here on the view no longer looks complete
    } catch (error) {
      this.busy.delete(doomed);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      if (await isBindFarm(doomed)) await unmountBindFarm(this.helper, doomed);
      await rm(doomed, { recursive: true, force: true });
    } finally {
      this.busy.delete(doomed);
    }
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((name) => !name.startsWith('.'));
  }

  async rootsOf(key: string): Promise<string[]> {
    const result = join(this.nixDir(key), 'var/result');
    const single = await readlink(result).catch(() => undefined);
    if (single !== undefined) return [single];
    const names = await readdir(result).catch(() => [] as string[]);
    return Promise.all(names.map((name) => readlink(join(result, name))));
  }

  async sweepLeftovers(): Promise<SweepResult> {
    await mkdir(this.dir, { recursive: true });
    const names = await readdir(this.dir);
    const leftovers = names.filter(
      (name) => (name.startsWith(BUILDING) || name.startsWith(DELETING)) && !this.busy.has(join(this.dir, name)),
    );
    const outcome = await Promise.all(leftovers.map(async (name) => ((await this.removeLeftover(join(this.dir, name))) ? 'removed' : 'left')));
    const repaired: string[] = [];
    // Only the first sweep (at start) looks for lost farms: while this process runs, nothing else unmounts them.
    const farmsToCheck = this.farmsChecked ? [] : names.filter((candidate) => !candidate.startsWith('.'));
    this.farmsChecked = true;
    for (const name of farmsToCheck) {
      const dir = join(this.dir, name);
      if (!(await isBindFarm(dir))) continue;
      // A farm that cannot be bound again is left as it is: a publish of it then fails its read-only check.
      if ((await repairBindFarm(this.helper, dir).catch(() => 0)) > 0) repaired.push(name);
    }
    return {
      removed: leftovers.filter((_, index) => outcome[index] === 'removed'),
      left: leftovers.filter((_, index) => outcome[index] === 'left'),
      ...(repaired.length > 0 ? { repaired } : {}),
    };
  }

  /** rm -r races a writer that is still adding entries (ENOTEMPTY): retried briefly, then left for the next sweep. */
  private async removeLeftover(path: string): Promise<boolean> {
    // A farm's binds come off first; one that cannot be proven ours keeps the directory (never descended into).
    if ((await isBindFarm(path)) && !(await unmountBindFarm(this.helper, path).then(() => true, () => false))) return false;
    for (let attempt = 1; ; attempt++) {
      try {
        await rm(path, { recursive: true, force: true });
        return true;
      } catch {
        if (attempt >= SWEEP_TRIES) return false;
        await new Promise((resolve) => setTimeout(resolve, SWEEP_PAUSE_MS * attempt));
      }
    }
  }

  /**
   * Store paths are linked by up to LINKERS cp processes at once, each taking the next
   * chunk of paths from a shared queue (paths differ wildly in size, so chunks are
   * small enough to even the load out, large enough that spawning cp stays cheap).
   */
  private async hardlinkAll(contents: ViewContents, store: string): Promise<void> {
    const sources = contents.paths.map((path) => path.physicalPath);
    const size = Math.min(CP_BATCH, Math.max(1, Math.ceil(sources.length / (LINKERS * CHUNKS_PER_LINKER))));
    const chunks: string[][] = [];
    for (let i = 0; i < sources.length; i += size) chunks.push(sources.slice(i, i + size));
    let failure: unknown;
    const worker = async () => {
      for (let chunk = chunks.shift(); chunk && failure === undefined; chunk = chunks.shift()) {
        await this.hardlink(chunk, store).catch((error: unknown) => {
          failure ??= error;
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(LINKERS, chunks.length) }, worker));
    if (failure !== undefined) throw failure;
  }

  private async hardlink(sources: string[], destination: string): Promise<void> {
    const cp = ['cp', '--archive', '--link', '--no-dereference', '--target-directory', destination, ...sources];
    const prefix = await this.linkNamespace.prefixFor(dirname(sources[0]!), destination);
    try {
      await this.runner.run([...prefix, ...cp][0]!, [...prefix, ...cp].slice(1));
    } catch (error) {
      if (error instanceof CommandFailedError && /cross-device/i.test(error.stderr)) {
        throw new FailedPreconditionError(
          `the state directory ${this.dir} and the node store are on different mounts (another filesystem, or a bind mount such as NixOS's read-only bind of /nix/store); views need hardlinks into the store (a bind of the store onto itself, as on NixOS, is reached around only when the state directory is on the mount that holds the store's parent directory)`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** nix/var/result: the root itself for one root, else a directory with one link per root. */
  private async linkResult(result: string, roots: readonly string[]): Promise<void> {
    if (roots.length === 1) {
      await symlink(roots[0]!, result);
      return;
    }
    await mkdir(result);
    const used = new Set<string>();
    for (const root of roots) {
      let name = storePathName(root);
      for (let n = 2; used.has(name); n++) name = `${storePathName(root)}-${n}`;
      used.add(name);
      await symlink(root, join(result, name));
    }
  }
}
