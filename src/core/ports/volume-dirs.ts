import type { OverlayDirs } from './mounter.js';

export const VolumeDirs = Symbol('VolumeDirs');

export interface VolumeUsage {
  bytesTotal: number;
  bytesAvailable: number;
  bytesUsed: number;
  inodesTotal: number;
  inodesFree: number;
  inodesUsed: number;
}

/** Directories a volume needs besides its view: the mount point and, for read-write volumes, the overlay. */
export interface VolumeDirs {
  /** Creates the target directory (and no parents); true when this call created it. */
  createTarget(targetPath: string): Promise<boolean>;
  /** Removes the target if it is an empty directory; never deletes contents. Absent is fine. */
  removeTarget(targetPath: string): Promise<void>;
  /** Creates fresh upper and work directories for the volume `key`. */
  createOverlay(key: string, lower: string): Promise<OverlayDirs & { dir: string }>;
  removeOverlay(key: string): Promise<void>;
  /** Overlay directories without a volume record, e.g. after a crash. */
  listOverlays(): Promise<string[]>;
  usage(path: string): Promise<VolumeUsage>;
}
