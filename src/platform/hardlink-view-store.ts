import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import { FailedPreconditionError, CommandFailedError } from '../core/errors.js';
import { ProcessRunner } from '../core/ports/process-runner.js';
import type { ViewContents, ViewStore } from '../core/ports/view-store.js';
import { NodeSettings } from '../core/settings.js';
import { storePathName } from '../core/store-path.js';

const BUILDING = '.building-';
const DELETING = '.deleting-';
// cp gets the store paths in batches so a closure of thousands never exceeds ARG_MAX.
const CP_BATCH = 500;

/**
 * Views as hardlink farms under <state>/views/<key>. `cp -al` recreates each store
 * path's directories and hardlinks its files, so every file shares its inode (and
 * page cache) with the node store. Built under a dot-name, renamed into place.
 */
@injectable()
export class HardlinkViewStore implements ViewStore {
  private readonly dir: string;

  constructor(
    @inject(NodeSettings) settings: NodeSettings,
    @inject(ProcessRunner) private readonly runner: ProcessRunner,
  ) {
    this.dir = join(settings.stateDir, 'views');
  }

  nixDir(key: string): string {
    return join(this.dir, key, 'nix');
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await lstat(join(this.dir, key))).isDirectory();
    } catch {
      return false;
    }
  }

  async materialize(key: string, contents: ViewContents): Promise<void> {
    const building = join(this.dir, `${BUILDING}${key}-${randomBytes(4).toString('hex')}`);
    const store = join(building, 'nix/store');
    await mkdir(store, { recursive: true });
    try {
      // The registration (two Nix processes) writes only nix/var/nix/db, so it runs
      // while cp fills nix/store; both are awaited before anything is cleaned up.
      const [linked, registered] = await Promise.allSettled([this.hardlinkAll(contents, store), contents.register(building)]);
      if (linked.status === 'rejected') throw linked.reason;
      if (registered.status === 'rejected') throw registered.reason;
      await this.linkResult(join(building, 'nix/var/result'), contents.roots);
      await rename(building, join(this.dir, key));
    } catch (error) {
      await rm(building, { recursive: true, force: true });
      if ((error as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (error as NodeJS.ErrnoException).code === 'EEXIST') {
        return; // another process finished the same view first; it is identical
      }
      throw error;
    }
  }

  async remove(key: string): Promise<void> {
    const doomed = join(this.dir, `${DELETING}${key}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(join(this.dir, key), doomed); // from here on the view no longer looks complete
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    await rm(doomed, { recursive: true, force: true });
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((name) => !name.startsWith('.'));
  }

  async sweepLeftovers(): Promise<string[]> {
    await mkdir(this.dir, { recursive: true });
    const names = await readdir(this.dir);
    const leftovers = names.filter((name) => name.startsWith(BUILDING) || name.startsWith(DELETING));
    await Promise.all(leftovers.map((name) => rm(join(this.dir, name), { recursive: true, force: true })));
    return leftovers;
  }

  private async hardlinkAll(contents: ViewContents, store: string): Promise<void> {
    for (let i = 0; i < contents.paths.length; i += CP_BATCH) {
      await this.hardlink(contents.paths.slice(i, i + CP_BATCH).map((path) => path.physicalPath), store);
    }
  }

  private async hardlink(sources: string[], destination: string): Promise<void> {
    try {
      await this.runner.run('cp', ['--archive', '--link', '--no-dereference', '--target-directory', destination, ...sources]);
    } catch (error) {
      if (error instanceof CommandFailedError && /cross-device/i.test(error.stderr)) {
        throw new FailedPreconditionError(
          `the state directory ${this.dir} is not on the node store's filesystem; views need hardlinks into the store`,
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
