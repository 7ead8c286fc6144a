import { randomBytes } from 'node:crypto';
import { closeSync, constants, open as openCallback, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { access, lstat, mkdir, readdir, realpath, rmdir } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { inject, injectable } from 'inversify';
import { mountPointOf, type Mounter, type MountOwner, type MountTarget, type OverlayDirs, type OwnMount } from '../core/ports/mounter.js';
import { ProcessRunner } from './process-runner.js';
import { NodeSettings } from '../core/settings.js';
import { mountContaining, pathMount, readMountInfo, stackAt, type MountEntry, type PathMount } from './mountinfo.js';
import { MountHelper } from './mount-helper.js';
import { isKeptBindName, ReadOnlyBinds } from './read-only-binds.js';
import { isBindFarm } from './bind-farm.js';

const HARDENING = ['nosuid', 'nodev'];
// A view directory, or one renamed aside while it was built or removed.
const VIEW_NAME = /^(?:\.(?:building|deleting)-)?([0-9a-f]{32})(?:-[0-9a-f]+)?$/;
const DELETED = '//deleted';
// Linux's O_PATH: a handle that names a path without opening the file.
const O_PATH = 0o10000000;
const openFd = promisify(openCallback) as (path: string, flags: number) => Promise<number>;

function mountIdOfFd(fd: number): number | undefined {
  const id = /^mnt_id:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
  return id === undefined ? undefined : Number(id);
}

/**
 * Binds and unmounts through the mount helper (system calls, or util-linux where it
 * cannot run), overlays by util-linux; the mount table is read from /proc/self/mountinfo, and a
 * mount is nixmount's only when the table proves it: a bind whose root is one of
 * the views' `nix` directories, or an overlay whose upper layer is in the overlays directory.
 */
@injectable()
export class LinuxMounter implements Mounter {
  private readonly viewsDir: string;
  private readonly overlaysDir: string;
  private readonly scratchDir: string;
  /** The views' read-only binds, which targets are bound from. */
  private readonly readOnly: ReadOnlyBinds;
  /** Inode of each view's `nix` directory → its key; a hint only, checked again on every use. */
  private readonly viewByInode = new Map<bigint, string>();

  constructor(
    @inject(ProcessRunner) private readonly runner: ProcessRunner,
    @inject(NodeSettings) settings: NodeSettings,
    @inject(MountHelper) private readonly helper: MountHelper,
  ) {
    this.viewsDir = join(settings.stateDir, 'views');
    this.overlaysDir = join(settings.stateDir, 'overlays');
    this.scratchDir = join(settings.stateDir, '.mounting');
    this.readOnly = new ReadOnlyBinds(helper, this.scratchDir);
  }

  /**
   * A read-only bind is a bind and then a remount (util-linux's `-o bind,ro,nosuid,nodev`
   * and the mount helper alike), and a remount does not propagate: through kubelet's Bidirectional or
   * Nomad's shared directory, the copy the host and the runtime see would stay
   * read-write, suid and dev. So the target gets a plain bind of a read-only bind: a
   * new mount copies its source's flags, on every peer it propagates to. For a view,
   * that read-only bind is made once and kept while the view lives (see
   * ReadOnlyBinds), so a warm publish is one bind; for any other source it is made
   * in a scratch directory and goes at once. Scratch mounts a crash leaves are
   * removed by `sweep` at the next start.
   */
  async bindReadOnly(source: string, to: MountTarget, extraFlags: readonly string[] = []): Promise<void> {
    const target = mountPointOf(to);
    const viewKey = viewName(childName(source, this.viewsDir, 'nix'));
    if (!viewKey) return this.bindThroughScratch(source, target.at, extraFlags);
    // A bind farm's per-path binds sit below the view: the target gets the whole tree.
    const tree = await isBindFarm(dirname(source));
    for (let attempt = 1; ; attempt++) {
      const bind = await this.readOnly.ensure(viewKey, source, extraFlags, tree);
      try {
        if (tree) await this.helper.bindTree(bind.path, target.at);
        else await this.helper.bind(bind.path, target.at);
      } catch (error) {
        // The kept bind went behind our back (its directory removed with the state dir's
        // contents): made again once, instead of failing every publish of the view from now on.
        if (attempt === 2 || (await this.readOnly.isStillMounted(viewKey, extraFlags))) throw error;
        this.readOnly.forget(viewKey, extraFlags);
        continue;
      }
      // Proven, not assumed: the target shows the view's root, read-only. Had the kept
      // bind been unmounted behind our back, the target got its empty scratch directory.
      if (await showsReadOnly(target.path, bind.mount)) return;
      this.readOnly.forget(viewKey, extraFlags);
      if (tree) await this.helper.unmountTree(target.path);
      else await this.helper.unmount(target.path);
      if (attempt === 2) throw new Error(`${target.path} did not show view ${viewKey} read-only after binding it`);
    }
  }

  async releaseView(viewKey: string): Promise<void> {
    await this.readOnly.release(viewKey);
  }

  private async bindThroughScratch(source: string, target: string, extraFlags: readonly string[]): Promise<void> {
    const scratch = join(this.scratchDir, `.${randomBytes(8).toString('hex')}`);
    await mkdir(scratch, { recursive: true });
    try {
      await this.helper.bindReadOnly(source, scratch, extraFlags);
      try {
        await this.helper.bind(scratch, target);
      } finally {
        await this.helper.unmount(scratch);
      }
    } finally {
      await rmdir(scratch).catch(() => undefined);
    }
  }

  async sweep(): Promise<number> {
    // Scratch points only (one name below the scratch dir), each detached with the tree below it (a bind farm's).
    const leftovers = (await readMountInfo())
      .filter((entry) => entry.mountPoint.startsWith(`${this.scratchDir}/`) && !entry.mountPoint.slice(this.scratchDir.length + 1).includes('/'))
      .reverse();
    for (const entry of leftovers) await this.helper.unmountTree(entry.mountPoint).catch(() => undefined);
    for (const name of await readdir(this.scratchDir).catch(() => [] as string[])) {
      await rmdir(join(this.scratchDir, name)).catch(() => undefined);
    }
    this.readOnly.forgetAll();
    // Counted: what an interrupted one-off mount left; the views' kept binds are a cache and go silently.
    return leftovers.filter((entry) => !isKeptBindName(basename(entry.mountPoint))).length;
  }

  async overlay(dirs: OverlayDirs, target: MountTarget, extraFlags: readonly string[] = []): Promise<void> {
    const options = [`lowerdir=${dirs.lower}`, `upperdir=${dirs.upper}`, `workdir=${dirs.work}`, ...HARDENING, ...extraFlags];
    // Not canonicalised: a held target's fd link must reach mount(2) as it is (a realpath would walk the path again).
    await this.runner.run('mount', ['--no-canonicalize', '-t', 'overlay', 'nixmount', '-o', options.join(','), mountPointOf(target).at]);
  }

  async unmount(target: string): Promise<void> {
    // A bind farm's tree is unmounted from its leaves up (the store paths, then the farm's
    // private mount of its store directory, then the view), each a plain unmount: one a
    // workload still uses is busy, as a hardlink view's single mount would be.
    const farm = await this.farmShownAt(target);
    if (farm) await this.helper.unmountMany([...farm.map((name) => join(target, 'store', name)), join(target, 'store')]);
    // The path was checked by the caller; the unmount must not follow a symlink swapped in since.
    await this.helper.unmount(target);
  }

  /** The store names of the bind-farm view mounted at `target`, or undefined for anything else. */
  private async farmShownAt(target: string): Promise<string[] | undefined> {
    const here = await pathMount(target).catch(() => undefined);
    if (!here || here.symlink) return undefined;
    const viewKey = await this.viewRootedAt(here);
    if (!viewKey) return undefined;
    // A mounted view is never renamed aside (it is held), so it is at its own name.
    const dir = join(this.viewsDir, viewKey);
    if (!(await isBindFarm(dir))) return undefined;
    return readdir(join(dir, 'nix/store'));
  }

  async mountIdAt(target: string): Promise<number | undefined> {
    const [here, parent] = await Promise.all([pathMount(target), pathMount(parentOf(target))]);
    return here && parent && !here.symlink && here.mountId !== parent.mountId ? here.mountId : undefined;
  }

  /**
   * The mount point the table names is opened (O_PATH, never following its last
   * component) and must be that very mount; the unmount then goes through the opened
   * descriptor's fd link, which names that mount and no other, however its path changes.
   */
  async unmountById(mountId: number, owner: OwnMount['owner']): Promise<boolean> {
    const entries = await readMountInfo();
    const entry = entries.find((candidate) => candidate.id === mountId);
    if (!entry || !sameOwner(this.attribution(entries)(entry), owner)) return false;
    const fd = await openFd(entry.mountPoint, O_PATH | constants.O_NOFOLLOW).catch(() => undefined);
    if (fd === undefined) throw new Error(`${entry.mountPoint} (mount ${mountId}) could not be opened; retry`);
    try {
      if (mountIdOfFd(fd) !== mountId) throw new Error(`${entry.mountPoint} no longer shows mount ${mountId} (it moved again); retry`);
      await this.helper.unmountFdLink(`/proc/${process.pid}/fd/${fd}`);
    } finally {
      closeSync(fd);
    }
    return true;
  }

  async mountsOf(owner: OwnMount['owner']): Promise<Array<{ mountId: number; mountPoint: string }>> {
    const entries = await readMountInfo();
    const attribute = this.attribution(entries);
    return entries
      .filter((entry) => !entry.mountPoint.startsWith(`${this.scratchDir}/`) && sameOwner(attribute(entry), owner))
      .map((entry) => ({ mountId: entry.id, mountPoint: entry.mountPoint }));
  }

  async mountsAt(target: string): Promise<MountOwner[]> {
    // The table names mount points as the kernel resolved them: an orchestrator root
    // that is itself a symlink (a moved kubelet dir) appears under its real path.
    const point = await realpath(target).catch(() => target);
    const entries = await readMountInfo();
    const owner = this.attribution(entries);
    return stackAt(entries, point).map(owner);
  }

  /**
   * The top mount at `target` without reading the mount table in the two common
   * cases, so a publish or unpublish costs the same with 1 or 1,000 mounts on the node:
   * - no mount there: `target` resolves to the same mount as its parent directory;
   * - a bind of one of our views: `target` is a mount point whose root is, inode for
   *   inode on the same filesystem, a view's `nix` directory (directories have one
   *   name, so that is the bind's root mountinfo would show).
   * Anything else (an overlay, a foreign mount, a symlink) is read from the table.
   */
  async topAt(target: string): Promise<MountOwner | undefined> {
    if (target !== '/') {
      const [here, parent] = await Promise.all([pathMount(target), pathMount(parentOf(target))]);
      if (here === undefined) return undefined; // nothing can be mounted on a missing path
      if (here && parent && !here.symlink && !parent.symlink) {
        if (here.mountId === parent.mountId) return undefined;
        const viewKey = await this.viewRootedAt(here);
        if (viewKey) return { kind: 'view', viewKey };
      }
    }
    return (await this.mountsAt(target)).at(-1);
  }



  async ownMounts(): Promise<OwnMount[]> {
    const entries = await readMountInfo();
    const owner = this.attribution(entries);
    const own: OwnMount[] = [];
    for (const entry of entries) {
      // The views' read-only binds in the scratch dir are the mounter's, not volumes: they hold no view.
      if (entry.mountPoint.startsWith(`${this.scratchDir}/`)) continue;
      const attributed = owner(entry);
      if (attributed.kind !== 'foreign') own.push({ mountPoint: entry.mountPoint, owner: attributed });
    }
    return own;
  }

  /** The view whose `nix` directory is the inode `mount` resolves to, if any (checked by lstat, never trusted from the hint). */
  private async viewRootedAt(mount: PathMount): Promise<string | undefined> {
    const hinted = this.viewByInode.get(mount.ino);
    if (hinted && (await this.isViewRoot(hinted, mount))) return viewName(hinted);
    const names = await readdir(this.viewsDir).catch(() => [] as string[]);
    this.viewByInode.clear();
    let found: string | undefined;
    await Promise.all(
      names.map(async (name) => {
        if (!viewName(name)) return;
        const stats = await lstat(join(this.viewsDir, name, 'nix'), { bigint: true }).catch(() => undefined);
        if (!stats?.isDirectory()) return;
        this.viewByInode.set(stats.ino, name);
        if (stats.ino === mount.ino && stats.dev === mount.dev) found = name;
      }),
    );
    return found ? viewName(found) : undefined;
  }

  private async isViewRoot(name: string, mount: PathMount): Promise<boolean> {
    const stats = await lstat(join(this.viewsDir, name, 'nix'), { bigint: true }).catch(() => undefined);
    return stats !== undefined && stats.isDirectory() && stats.ino === mount.ino && stats.dev === mount.dev;
  }

  /** Attributes mounts against one reading of the table (where the views directory lives in it). */
  private attribution(entries: readonly MountEntry[]): (entry: MountEntry) => MountOwner {
    const home = mountContaining(entries, this.viewsDir);
    const viewsRoot = home ? join(home.root, relative(home.mountPoint, this.viewsDir)) : undefined;
    return (entry) => {
      if (entry.fsType === 'overlay') {
        const upper = option(entry, 'upperdir');
        const volumeKey = upper && childName(upper, this.overlaysDir, 'upper');
        if (volumeKey) {
          const lower = option(entry, 'lowerdir');
          const viewKey = lower ? viewName(childName(lower, this.viewsDir, 'nix')) : undefined;
          return { kind: 'overlay', volumeKey, ...(viewKey ? { viewKey } : {}) };
        }
      } else if (home && viewsRoot !== undefined && entry.device === home.device) {
        const viewKey = viewName(childName(stripDeleted(entry.root), viewsRoot, 'nix'));
        if (viewKey) return { kind: 'view', viewKey };
      }
      return { kind: 'foreign', description: `${entry.fsType} ${entry.source}${entry.root === '/' ? '' : ` (${entry.root})`}` };
    };
  }
}

/**
 * The directory above `target` to compare mounts with: a held target's parent is an fd
 * link (`/proc/<pid>/fd/<n>`), which O_NOFOLLOW would open as the link; `…/.` is the
 * directory it names.
 */
function parentOf(target: string): string {
  const parent = dirname(target);
  return /^\/proc\/\d+\/fd\/\d+$/.test(parent) ? `${parent}/.` : parent;
}

function sameOwner(found: MountOwner, owner: OwnMount['owner']): boolean {
  if (found.kind === 'overlay') return owner.kind === 'overlay' && found.volumeKey === owner.volumeKey;
  return found.kind === 'view' && owner.kind === 'view' && found.viewKey === owner.viewKey;
}

/** `target` resolves to `root`'s inode and refuses writes as a read-only mount does (EROFS). */
async function showsReadOnly(target: string, root: PathMount): Promise<boolean> {
  const [shown, writable] = await Promise.all([
    pathMount(target).catch(() => undefined),
    access(target, constants.W_OK).then(
      () => 'writable',
      (error: NodeJS.ErrnoException) => error.code,
    ),
  ]);
  return shown !== undefined && shown.ino === root.ino && shown.dev === root.dev && writable === 'EROFS';
}

function option(entry: MountEntry, name: string): string | undefined {
  const prefix = `${name}=`;
  return entry.superOptions.find((value) => value.startsWith(prefix))?.slice(prefix.length);
}

/** `<dir>/<name>/<leaf>` → name; anything else → undefined. */
function childName(path: string, dir: string, leaf: string): string | undefined {
  const base = dir.endsWith('/') ? dir : `${dir}/`;
  if (!path.startsWith(base)) return undefined;
  const parts = path.slice(base.length).split('/');
  return parts.length === 2 && parts[1] === leaf && parts[0] ? parts[0] : undefined;
}

function viewName(name: string | undefined): string | undefined {
  return name ? VIEW_NAME.exec(name)?.[1] : undefined;
}

function stripDeleted(root: string): string {
  return root.endsWith(DELETED) ? root.slice(0, -DELETED.length) : root;
}
