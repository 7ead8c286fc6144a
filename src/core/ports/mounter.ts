export const Mounter = Symbol('Mounter');

export interface OverlayDirs {
  lower: string;
  upper: string;
  work: string;
}

/**
 * Who a mount belongs to, proven from the mount table: a read-only bind of one of
 * nixmount's views, an overlay whose upper layer is one of nixmount's overlay
 * directories, or something else (an administrator's tmpfs, another driver's mount).
 */
export type MountOwner =
  | { kind: 'view'; viewKey: string }
  | { kind: 'overlay'; volumeKey: string; viewKey?: string }
  | { kind: 'foreign'; description: string };

export interface OwnMount {
  mountPoint: string;
  owner: Exclude<MountOwner, { kind: 'foreign' }>;
}

/**
 * A mount point held open (see VolumeDirs.holdTarget): `path` names it through its held
 * parent (lookups and unmounts go there), `at` names the held directory itself (what
 * mount(2) is given), so nothing renamed or swapped for a symlink since the path was
 * checked can move the mount elsewhere. A plain string is both.
 */
export interface MountPoint {
  path: string;
  at: string;
}

export type MountTarget = string | MountPoint;

export function mountPointOf(target: MountTarget): MountPoint {
  return typeof target === 'string' ? { path: target, at: target } : target;
}

export interface Mounter {
  /** Bind `source` at `target`, read-only, nosuid, nodev (plus `extraFlags`). */
  bindReadOnly(source: string, target: MountTarget, extraFlags?: readonly string[]): Promise<void>;
  /** Overlayfs at `target` with a read-only lower and a per-volume upper. */
  overlay(dirs: OverlayDirs, target: MountTarget, extraFlags?: readonly string[]): Promise<void>;
  /** Unmounts the top mount at `target`; callers check first that it is their own. */
  unmount(target: string): Promise<void>;
  /** The kernel's id of the top mount at `target`, or undefined when nothing is there. */
  mountIdAt(target: string): Promise<number | undefined>;
  /**
   * Unmounts the mount with kernel id `mountId` wherever it is now, if the table proves it
   * is `owner` (a bind of that view, or that volume's overlay); never walks a path that
   * could lead elsewhere. Answers false when no such mount is there (gone, or the id now
   * names someone else's mount, which stays).
   */
  unmountById(mountId: number, owner: Exclude<MountOwner, { kind: 'foreign' }>): Promise<boolean>;
  /**
   * Every mount the table attributes to `owner`, wherever it is (its id and mount point
   * as the kernel shows it): how a record that does not name its mount's id finds it.
   */
  mountsOf(owner: Exclude<MountOwner, { kind: 'foreign' }>): Promise<Array<{ mountId: number; mountPoint: string }>>;
  /** The mounts stacked at `target`, bottom first (the last is the one in use), each with its owner. */
  mountsAt(target: string): Promise<MountOwner[]>;
  /** The top of `mountsAt(target)` (what a process looking at the path sees), or undefined; may skip reading the whole table. */
  topAt(target: string): Promise<MountOwner | undefined>;
  /** Every mount on this node of one of nixmount's views or overlays. */
  ownMounts(): Promise<OwnMount[]>;
  /**
   * Drops whatever the mounter keeps for a view (the read-only bind read-only volumes
   * are bound from); volumes already bound keep their mounts. Called before the view is removed.
   */
  releaseView(viewKey: string): Promise<void>;
  /**
   * Removes what a mount interrupted by a crash left and what it keeps for views (scratch
   * mounts); answers how many of the former. At start, and when the plugin stops.
   */
  sweep(): Promise<number>;
}
