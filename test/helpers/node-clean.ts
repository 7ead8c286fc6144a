import { createHash } from 'node:crypto';
import { readFile, readdir, readlink, realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ExecutionContext } from 'ava';
import { parseMountInfo, type MountEntry } from '../../src/platform/mountinfo.js';

/**
 * Where a plugin on `stateDir` keeps its GC roots. The layout docs/operations.md gives:
 * `/nix/var/nix/gcroots/nixmount/<first 16 hex of sha256(realpath(stateDir))>`, the same
 * directory `NixCliStore.gcRootDir()` answers inside the plugin. A serve process is separate, so
 * tests compute it here the same way.
 */
export async function gcRootDirFor(stateDir: string, storeRoot = '/'): Promise<string> {
  const canonical = await realpath(stateDir).catch(() => resolve(stateDir));
  return gcRootDirForLiteral(canonical, storeRoot);
}

/** The directory today's plugin uses: keyed by the literal --state-dir string (finding 8b). */
export function gcRootDirForLiteral(stateDir: string, storeRoot = '/'): string {
  return join(storeRoot, 'nix/var/nix/gcroots/nixmount', createHash('sha256').update(stateDir).digest('hex').slice(0, 16));
}

export interface NodeCleanOptions {
  stateDir: string;
  /** Defaults to gcRootDirFor(stateDir). */
  gcRootDir?: string;
  /** Targets and staging paths whose mounts are live volumes: each must hold exactly one mount of ours. */
  liveTargets?: readonly string[];
  /** Whose mount table to read; /proc/self/mountinfo unless the plugin runs in another mount namespace. */
  mountInfoFile?: string;
  /** Processes allowed to mention the state dir (the running plugin itself). */
  allowPids?: readonly number[];
  /** Other spellings of the state dir the plugin was started with (their literal-keyed roots must not exist). */
  stateDirAliases?: readonly string[];
  /** Prefixes every assertion message (e.g. which crash moment). */
  label?: string;
}

export interface NodeCleanReport {
  views: string[];
  roots: string[];
  liveMounts: MountEntry[];
}

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/** Mount entries whose source lies in the state dir (bind of a view, overlay with its upperdir there) or that sit inside it. */
export function stateMounts(entries: readonly MountEntry[], stateDirs: readonly string[]): MountEntry[] {
  return entries.filter((entry) =>
    stateDirs.some(
      (state) =>
        under(entry.root, state) ||
        under(entry.mountPoint, state) ||
        entry.superOptions.some((option) => /^(upperdir|lowerdir|workdir)=/.test(option) && option.split('=')[1]!.split(':').some((dir) => under(dir, state))),
    ),
  );
}

/**
 * The read-only binds the mounter keeps while a view lives, which read-only volumes are bound
 * from: `<state>/.mounting/<viewKey>[-<flags hash>]`, `ro,nosuid,nodev`, rooted at that existing view's `nix`.
 */
export function viewBinds(entries: readonly MountEntry[], stateDirs: readonly string[], views: readonly string[]): MountEntry[] {
  return entries.filter((entry) =>
    stateDirs.some((state) => {
      const name = /^([0-9a-f]{32})(?:-[0-9a-f]{16})?$/.exec(entry.mountPoint.slice(`${state}/.mounting/`.length));
      if (!entry.mountPoint.startsWith(`${state}/.mounting/`) || !name || !views.includes(name[1]!)) return false;
      // Read-only and hardened, or it is not the bind targets may be made from (a half-made one is a stray).
      if (!['ro', 'nosuid', 'nodev'].every((flag) => entry.options.includes(flag))) return false;
      return stateDirs.some((home) => entry.root === join(home, 'views', name[1]!, 'nix'));
    }),
  );
}

/**
 * A bind-farm view's per-path binds (`<state>/views/<viewKey>/nix/store/<name>`, an existing
 * view), the read-only private bind of that store directory onto itself they sit in, and their
 * copies in the tree the mounter keeps for it and in each live target's (`<kept bind or target>/store[/<name>]`),
 * each read-only and hardened, and showing a directory of that store path's name.
 */
export function farmBinds(entries: readonly MountEntry[], stateDirs: readonly string[], views: readonly string[], kept: readonly MountEntry[], live: readonly string[] = []): MountEntry[] {
  const keptPoints = new Set([...kept.map((entry) => entry.mountPoint), ...live]);
  const inView = (parent: string) =>
    stateDirs.some((state) => {
      const view = /^([0-9a-f]{32})\/nix$/.exec(parent.slice(`${state}/views/`.length));
      return parent.startsWith(`${state}/views/`) && view !== null && views.includes(view[1]!);
    });
  return entries.filter((entry) => {
    // The farm's store directory, a read-only private bind of itself (and its copy in the kept tree).
    if (entry.mountPoint.endsWith('/store') && /\/views\/[0-9a-f]{32}\/nix\/store$/.test(entry.root) && ['ro', 'nosuid', 'nodev'].every((flag) => entry.options.includes(flag))) {
      const parent = entry.mountPoint.slice(0, -'/store'.length);
      if (keptPoints.has(parent) || inView(parent)) return true;
    }
    const leaf = /\/store\/([^/]+)$/.exec(entry.mountPoint);
    if (!leaf || !entry.root.endsWith(`/${leaf[1]}`) || !['ro', 'nosuid', 'nodev'].every((flag) => entry.options.includes(flag))) return false;
    const parent = entry.mountPoint.slice(0, -`/store/${leaf[1]}`.length);
    return keptPoints.has(parent) || inView(parent);
  });
}

async function names(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

/** Processes (other than `allow`) whose cwd or argv mentions one of `needles`, as "pid: argv (cwd …)". */
export async function processesMentioning(needles: readonly string[], allow: readonly number[] = []): Promise<string[]> {
  return (await pidsMentioning(needles, allow)).map(({ pid, cmdline, cwd }) => `${pid}: ${cmdline} (cwd ${cwd})`);
}

/** Test cleanup: SIGKILLs (by pid) every process left working in `dir` by the test's own plugins, then waits (bounded). */
export async function killProcessesIn(dir: string, allow: readonly number[] = []): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const found = await pidsMentioning([dir], allow);
    if (found.length === 0) return;
    for (const { pid } of found) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((done) => setTimeout(done, 50));
  }
}

export async function pidsMentioning(needles: readonly string[], allow: readonly number[] = []): Promise<Array<{ pid: number; cmdline: string; cwd: string }>> {
  const found: Array<{ pid: number; cmdline: string; cwd: string }> = [];
  for (const name of await names('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid || allow.includes(pid)) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (needles.some((needle) => cmdline.includes(needle) || under(cwd, needle))) found.push({ pid, cmdline: cmdline.trim(), cwd });
  }
  return found;
}

/**
 * Asserts a node holds nothing of nixmount's but its live volumes:
 * - no mount whose source is in the state dir except exactly one at each live target, the
 *   read-only bind the mounter keeps for each existing view (`viewBinds`) and, for bind-farm
 *   views, their per-path binds and those in the kept tree (`farmBinds`);
 * - no `.building-*` / `.deleting-*` under <state>/views, no `*.tmp` record write left;
 * - GC roots (`<viewKey>-<i>`) exactly the views', none under a literal-keyed alias directory;
 * - no overlay directory without a record;
 * - no process but `allowPids` whose argv or cwd mentions the state dir.
 * Orphan processes get a bounded 3 s to exit before they count.
 */
export async function assertNodeClean(context: ExecutionContext, options: NodeCleanOptions): Promise<NodeCleanReport> {
  const prefix = options.label ? `${options.label}: ` : '';
  const t = {
    deepEqual: <T>(actual: T, expected: T, message: string) => context.deepEqual(actual, expected, prefix + message),
    is: <T>(actual: T, expected: T, message: string) => context.is(actual, expected, prefix + message),
  };
  const stateDir = resolve(options.stateDir);
  const canonical = await realpath(stateDir).catch(() => stateDir);
  const stateDirs = [...new Set([stateDir, canonical])];
  const rootDir = options.gcRootDir ?? (await gcRootDirFor(stateDir));
  const live = (options.liveTargets ?? []).map((target) => resolve(target));

  // Views (read first: each may keep one read-only bind per set of mount flags).
  const viewNames = await names(join(stateDir, 'views'));
  const views = viewNames.filter((name) => !name.startsWith('.')).sort();

  // Mounts.
  const entries = parseMountInfo(await readFile(options.mountInfoFile ?? '/proc/self/mountinfo', 'utf8'));
  const ours = stateMounts(entries, stateDirs);
  const kept = viewBinds(ours, stateDirs, views);
  const farms = farmBinds(ours, stateDirs, views, kept, live);
  const strays = ours.filter((entry) => !live.includes(entry.mountPoint) && !kept.includes(entry) && !farms.includes(entry));
  t.deepEqual(strays.map((entry) => `${entry.mountPoint} (${entry.fsType} ${entry.root})`), [], 'mounts from the state dir outside live targets and the views\' read-only binds');
  const points = kept.map((entry) => entry.mountPoint);
  t.deepEqual(points.filter((point, index) => points.indexOf(point) !== index), [], 'read-only binds stacked at one point');
  const liveMounts: MountEntry[] = [];
  for (const target of live) {
    const at = ours.filter((entry) => entry.mountPoint === target);
    t.is(at.length, 1, `live target ${target} holds exactly one mount of nixmount's`);
    liveMounts.push(...at);
  }

  // Views.
  t.deepEqual(viewNames.filter((name) => name.startsWith('.building-') || name.startsWith('.deleting-')), [], 'half-built or half-deleted views');
  for (const dir of ['volumes', 'stages']) {
    t.deepEqual((await names(join(stateDir, dir))).filter((name) => name.endsWith('.tmp')), [], `interrupted record writes in ${dir}/`);
  }
  t.deepEqual((await names(stateDir)).filter((name) => name.startsWith('.owner.pid.')), [], 'pid files of the state-dir lock never renamed into place');

  // GC roots.
  const rootNames = await names(rootDir);
  t.deepEqual(rootNames.filter((name) => !/^[0-9a-f]+-\d+$/.test(name)), [], `stray entries in the GC root dir ${rootDir}`);
  const roots = rootNames.filter((name) => /^[0-9a-f]+-\d+$/.test(name));
  const rootedViews = [...new Set(roots.map((name) => name.replace(/-\d+$/, '')))].sort();
  t.deepEqual(rootedViews, views, `GC roots in ${rootDir} are exactly the views'`);
  for (const alias of options.stateDirAliases ?? []) {
    const literal = gcRootDirForLiteral(alias);
    if (literal !== rootDir) t.deepEqual(await names(literal), [], `roots keyed by the literal state dir "${alias}"`);
  }

  // Overlays.
  const recordKeys = new Set<string>();
  const overlayDirs = new Set<string>();
  for (const name of await names(join(stateDir, 'volumes'))) {
    if (!name.endsWith('.json')) continue;
    recordKeys.add(name.slice(0, -'.json'.length));
    try {
      const record = JSON.parse(await readFile(join(stateDir, 'volumes', name), 'utf8')) as { key?: unknown; overlayDir?: unknown };
      if (typeof record.key === 'string') recordKeys.add(record.key);
      if (typeof record.overlayDir === 'string') overlayDirs.add(record.overlayDir.replace(/\/+$/, '').split('/').pop()!);
    } catch {
      // an unreadable record names no overlay
    }
  }
  const overlays = await names(join(stateDir, 'overlays'));
  t.deepEqual(overlays.filter((name) => !recordKeys.has(name) && !overlayDirs.has(name)), [], 'overlay dirs without a record');

  // Processes.
  let orphans: string[] = [];
  for (let attempt = 0; attempt < 30; attempt++) {
    orphans = await processesMentioning(stateDirs, options.allowPids);
    if (orphans.length === 0) break;
    await new Promise((done) => setTimeout(done, 100));
  }
  t.deepEqual(orphans, [], 'processes left working in the state dir');

  return { views, roots: roots.sort(), liveMounts };
}
