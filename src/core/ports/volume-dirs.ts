import type { MountPoint, OverlayDirs } from './mounter.js';

export const VolumeDirs = Symbol('VolumeDirs');

export interface VolumeUsage {
  bytesTotal: number;
  bytesAvailable: number;
  bytesUsed: number;
  inodesTotal: number;
  inodesFree: number;
  inodesUsed: number;
}

/**
 * A target whose parent directory is held open from the moment its path was checked:
 * the target is created, mounted on, looked at and unmounted relative to that held
 * directory, never by walking its path again. Between the check and the mount lie the
 * realise and the view build (seconds to minutes), time enough for a workload that
 * shares a directory on the path to swap it for a symlink to elsewhere.
 */
export interface HeldTarget {
  /** The target named through its held parent. */
  readonly path: string;
  /** Creates the target in the held parent if absent (and no parents) and holds it too; `created` when this call made it. */
  create(): Promise<{ created: boolean; mountPoint: MountPoint }>;
  /** Lets go of what is held (the mounts stay). */
  release(): void;
}

/**
 * The parent of a recorded target held for its unpublish: the ownership check, the
 * unmount and the removal of the directory nixmount made all go through `path`, so
 * they see one place, whatever is swapped on the path meanwhile.
 */
export interface HeldParent {
  /** The target named through its held parent. */
  readonly path: string;
  release(): void;
}

/** Directories a volume needs besides its view: the mount point and, for read-write volumes, the overlay. */
export interface VolumeDirs {
  /** Holds the parent of `targetPath` (which must exist); a parent missing or not a directory is FAILED_PRECONDITION. */
  holdTarget(targetPath: string): Promise<HeldTarget>;
  /**
   * Holds the parent of `targetPath` (checked by the adapter) for an unpublish. Undefined
   * when it is gone (nothing can be mounted there). A directory held that is not the one
   * the path led to when it was checked (`expectedAt`, its real path then; without it,
   * where the path leads now) is ABORTED and nothing is held: a directory on the path was
   * swapped for a symlink since, and a retry is checked again and takes the moved path's route.
   */
  holdExisting(targetPath: string, expectedAt?: string): Promise<HeldParent | undefined>;
  /** Removes the target if it is an empty directory; never deletes contents. Absent is fine. */
  removeTarget(targetPath: string): Promise<void>;
  /** Creates fresh upper and work directories for the volume `key`. */
  createOverlay(key: string, lower: string): Promise<OverlayDirs & { dir: string }>;
  removeOverlay(key: string): Promise<void>;
  /** Overlay directories without a volume record, e.g. after a crash. */
  listOverlays(): Promise<string[]>;
  usage(path: string): Promise<VolumeUsage>;
}
