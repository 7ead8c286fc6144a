export const Mounter = Symbol('Mounter');

export interface OverlayDirs {
  lower: string;
  upper: string;
  work: string;
}

export interface Mounter {
  /** Bind `source` at `target`, read-only, nosuid, nodev (plus `extraFlags`). */
  bindReadOnly(source: string, target: string, extraFlags?: readonly string[]): Promise<void>;
  /** Overlayfs at `target` with a read-only lower and a per-volume upper. */
  overlay(dirs: OverlayDirs, target: string, extraFlags?: readonly string[]): Promise<void>;
  unmount(target: string): Promise<void>;
  isMountPoint(target: string): Promise<boolean>;
}
