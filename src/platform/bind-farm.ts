import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { BindFarmUnavailableError } from '../core/errors.js';
import type { MountHelper } from './mount-helper.js';
import { mountContaining, readMountInfo, type MountEntry } from './mountinfo.js';

/**
 * A bind-farm view's marker, `<views>/<dir>/bind-farm`, beside its `nix` directory (so
 * no workload sees it). It names the physical store directory the binds come from, and
 * is written before the first bind: a directory a crash left with binds in it always
 * says where they must come from, which is what proves them ours.
 */
export const BIND_FARM_MARKER = 'bind-farm';
// mkdir of the mount points, this many at a time (each is a file system round trip).
const MKDIR_PARALLEL = 32;
const DELETED = '//deleted';
// A store path's name: 32 characters of Nix's base32, a dash, a name.
const STORE_NAME = /^[0-9a-df-np-sv-z]{32}-/;

interface Marker {
  storeDir: string;
}

/** Whether the view directory `viewDir` is a bind farm. */
export async function isBindFarm(viewDir: string): Promise<boolean> {
  return (await lstat(join(viewDir, BIND_FARM_MARKER)).catch(() => undefined))?.isFile() ?? false;
}

/**
 * Fills `<viewDir>/nix/store` (which exists, empty) with one read-only, nosuid, nodev
 * bind per store path, through the mount helper's batch call. A failure undoes every
 * bind this call made before it is thrown.
 */
export async function buildBindFarm(helper: MountHelper, viewDir: string, physicalPaths: readonly string[]): Promise<void> {
  if (physicalPaths.length === 0) return;
  const storeDir = dirname(physicalPaths[0]!);
  const marker: Marker = { storeDir };
  await writeFile(join(viewDir, BIND_FARM_MARKER), `${JSON.stringify(marker)}\n`, { flag: 'wx' });
  const store = join(viewDir, 'nix/store');
  const pairs: Array<readonly [string, string]> = [];
  for (let i = 0; i < physicalPaths.length; i += MKDIR_PARALLEL) {
    await Promise.all(
      physicalPaths.slice(i, i + MKDIR_PARALLEL).map(async (source) => {
        const target = join(store, basename(source));
        const stats = await lstat(source);
        // A bind would follow a symlink; a store path that is one is copied as the link it is (no mount).
        if (stats.isSymbolicLink()) return symlink(await readlink(source), target);
        // A mount point has the kind of its source: a directory, or a file for a single-file store path.
        if (stats.isDirectory()) await mkdir(target);
        else await writeFile(target, '', { flag: 'wx', mode: 0o444 });
        pairs.push([source, target]);
      }),
    );
  }
  // Nix makes `.links` in the store it writes the view's database for; made here before the directory turns read-only.
  await mkdir(join(store, '.links'), { recursive: true });
  try {
    // The farm's directory first becomes a private, read-only mount of itself (the workload
    // cannot add to its /nix/store): on a shared state dir
    // (a systemd host's /, a container's peers of it) the binds below would otherwise be
    // copied to the host's namespace, where their read-only remount never reaches.
    await helper.bindPrivate(store);
    await helper.bindReadOnlyMany(pairs);
  } catch (error) {
    await unmountBindFarm(helper, viewDir).catch(() => undefined);
    throw new BindFarmUnavailableError(`the bind farm of ${physicalPaths.length} store paths could not be mounted: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Unmounts every bind of the farm in `viewDir` (a view, or one renamed aside), each
 * proven ours from the mount table: its mount point is `<viewDir>/nix/store/<name>` and
 * it shows `<name>` from the store the marker names (same filesystem, same directory).
 * Anything else mounted below `viewDir` is not ours: nothing is unmounted and the call
 * throws, so the directory (whose removal would descend into that mount) stays.
 */
export async function unmountBindFarm(helper: MountHelper, viewDir: string): Promise<void> {
  // A marker a crash cut short was written before any bind: then nothing below may be mounted.
  const storeDir = (await readMarker(viewDir).catch(() => undefined))?.storeDir;
  for (let attempt = 0; attempt < 2; attempt++) {
    const { own, foreign } = farmMounts(await readMountInfo(), viewDir, storeDir);
    if (foreign.length > 0) {
      throw new Error(`${viewDir} holds mounts that are not its bind farm's (${foreign.slice(0, 3).map((entry) => entry.mountPoint).join(', ')}); left in place`);
    }
    if (own.length === 0) return;
    // Top of each stack first (a killed plugin's retried bind may sit on another), the farm's private mount last.
    await helper.unmountMany(own.reverse().map((entry) => entry.mountPoint));
  }
  const left = farmMounts(await readMountInfo(), viewDir, storeDir).own.length;
  if (left > 0) throw new Error(`${viewDir} still holds ${left} binds of its farm after unmounting them`);
}

/**
 * The first half of making a damaged farm whole again in `viewDir` (its marker and files
 * removed, its store directories left where they are mount points): the marker is written
 * again, the farm's binds in this namespace come off (its store directory is a read-only
 * bind of itself while they are up), and every mount point it lacks is made. The caller
 * writes the database, then binds with repairBindFarm.
 */
export async function restoreBindFarm(helper: MountHelper, viewDir: string, physicalPaths: readonly string[]): Promise<void> {
  if (physicalPaths.length === 0) return;
  const marker: Marker = { storeDir: dirname(physicalPaths[0]!) };
  await writeFile(join(viewDir, BIND_FARM_MARKER), `${JSON.stringify(marker)}\n`);
  await unmountBindFarm(helper, viewDir);
  const store = join(viewDir, 'nix/store');
  await mkdir(store, { recursive: true });
  for (let i = 0; i < physicalPaths.length; i += MKDIR_PARALLEL) {
    await Promise.all(
      physicalPaths.slice(i, i + MKDIR_PARALLEL).map(async (source) => {
        const target = join(store, basename(source));
        if (await lstat(target).then(() => true, () => false)) return;
        const stats = await lstat(source);
        if (stats.isSymbolicLink()) return symlink(await readlink(source), target);
        if (stats.isDirectory()) await mkdir(target);
        else await writeFile(target, '', { flag: 'wx', mode: 0o444 });
      }),
    );
  }
  await mkdir(join(store, '.links'), { recursive: true });
}

/**
 * Binds again what a complete farm lost (a reboot, or a new mount namespace after the
 * plugin's container restarted, takes every bind and leaves the directories): answers
 * how many store paths were bound again. A view whose farm is whole costs one reading
 * of the mount table and one directory listing.
 */
export async function repairBindFarm(helper: MountHelper, viewDir: string): Promise<number> {
  const { storeDir } = await readMarker(viewDir);
  const { own, foreign } = farmMounts(await readMountInfo(), viewDir, storeDir);
  if (foreign.length > 0) throw new Error(`${viewDir} holds mounts that are not its bind farm's; not repaired`);
  const store = join(viewDir, 'nix/store');
  if (!own.some((entry) => entry.mountPoint === store)) await helper.bindPrivate(store);
  const mounted = new Set(own.filter((entry) => entry.mountPoint !== store).map((entry) => basename(entry.mountPoint)));
  // Store paths only: Nix makes `.links` in the view's store when it writes the view's database.
  const missing = (await readdir(store, { withFileTypes: true }))
    .filter((entry) => STORE_NAME.test(entry.name) && !entry.isSymbolicLink() && !mounted.has(entry.name))
    .map((entry) => entry.name);
  await helper.bindReadOnlyMany(missing.map((name) => [join(storeDir, name), join(store, name)] as const));
  return missing.length;
}

/** The mounts below `viewDir`, split into the farm's own binds and everything else (pure: tested on any table). */
export function farmMounts(entries: readonly MountEntry[], viewDir: string, storeDir: string | undefined): { own: MountEntry[]; foreign: MountEntry[] } {
  const below = entries.filter((entry) => entry.mountPoint.startsWith(`${viewDir}/`));
  const own: MountEntry[] = [];
  const foreign: MountEntry[] = [];
  if (below.length === 0) return { own, foreign };
  const above = entries.filter((entry) => !below.includes(entry));
  const home = storeDir === undefined ? undefined : mountContaining(above, storeDir);
  const storeRoot = home && storeDir ? join(home.root, relative(home.mountPoint, storeDir)) : undefined;
  const farmDir = join(viewDir, 'nix/store');
  // The farm's directory bound onto itself: the same directory of the filesystem holding the view.
  const viewHome = mountContaining(above, viewDir);
  const farmRoot = viewHome ? join(viewHome.root, relative(viewHome.mountPoint, farmDir)) : undefined;
  for (const entry of below) {
    if (entry.mountPoint === farmDir) {
      (storeDir !== undefined && viewHome !== undefined && entry.device === viewHome.device && stripDeleted(entry.root) === farmRoot ? own : foreign).push(entry);
      continue;
    }
    const name = entry.mountPoint.slice(farmDir.length + 1);
    const proven =
      home !== undefined &&
      storeRoot !== undefined &&
      entry.mountPoint.startsWith(`${farmDir}/`) &&
      name !== '' &&
      !name.includes('/') &&
      entry.device === home.device &&
      stripDeleted(entry.root) === join(storeRoot, name);
    (proven ? own : foreign).push(entry);
  }
  return { own, foreign };
}

async function readMarker(viewDir: string): Promise<Marker> {
  const parsed = JSON.parse(await readFile(join(viewDir, BIND_FARM_MARKER), 'utf8')) as Partial<Marker>;
  if (typeof parsed.storeDir !== 'string' || !parsed.storeDir.startsWith('/')) throw new Error(`${viewDir}/${BIND_FARM_MARKER} names no store directory`);
  return { storeDir: parsed.storeDir };
}

function stripDeleted(root: string): string {
  return root.endsWith(DELETED) ? root.slice(0, -DELETED.length) : root;
}
