import type { MountCount } from './ports/mount-budget.js';

/**
 * How a view presents its closure:
 * - hardlink: `<view>/nix/store` holds hardlinks of every file (cost per file; needs the
 *   state dir on the store's filesystem; works as an overlayfs lower);
 * - bind-farm: one read-only bind per store path onto `<view>/nix/store/<name>` (cost per
 *   path, no EXDEV, any store including NixOS's self-bound one; read-only volumes only,
 *   since an overlayfs lower does not reach into the mounts below it).
 */
export type Presentation = 'hardlink' | 'bind-farm';

/** --view-mode: auto picks what fits, the others insist (a bind farm still falls back when over budget). */
export type ViewMode = 'auto' | Presentation;

export const VIEW_MODES: readonly ViewMode[] = ['auto', 'bind-farm', 'hardlink'];

export interface PresentationChoice {
  presentation: Presentation;
  /** Why, for the log, the metrics and doctor. */
  reason: 'view-mode' | 'read-write' | 'fits-budget' | 'over-budget';
  /** Mounts this volume would add as a bind farm, and what the budget allowed. */
  needed?: number;
  available?: number;
}

/**
 * Mounts kept free for everything else on the node (other volumes, the orchestrator,
 * containers): 5 % of fs.mount-max, at least 100. Concurrent cold publishes decide on
 * one reading each, so the headroom also absorbs what they add at once.
 */
export function mountHeadroom(max: number): number {
  return Math.max(100, Math.ceil(max * 0.05));
}

/**
 * Mounts a read-only volume of `paths` store paths adds as a bind farm: the view's own
 * binds (one per path, below a private mount of its store directory) and the mounter's
 * kept read-only copy of that tree (the view's root on top), unless the farm exists
 * already; then the volume's own recursive bind of the tree (the same again).
 */
export function bindFarmMounts(paths: number, farmExists: boolean): number {
  const farm = paths + 1;
  const tree = farm + 1;
  return (farmExists ? 0 : farm + tree) + tree;
}

/**
 * The selection order (docs/operations.md#view-presentations): --view-mode hardlink
 * → hardlinks; a read-write volume → hardlinks; a bind farm that would leave less than
 * the headroom under fs.mount-max → hardlinks (a fallback, counted); else a bind farm.
 */
export function choosePresentation(input: { mode: ViewMode; writable: boolean; paths: number; farmExists: boolean; count?: MountCount }): PresentationChoice {
  if (input.mode === 'hardlink') return { presentation: 'hardlink', reason: 'view-mode' };
  if (input.writable) return { presentation: 'hardlink', reason: 'read-write' };
  const needed = bindFarmMounts(input.paths, input.farmExists);
  if (!input.count) return { presentation: 'bind-farm', reason: 'fits-budget', needed };
  const available = input.count.max - mountHeadroom(input.count.max) - input.count.used;
  return needed <= available
    ? { presentation: 'bind-farm', reason: 'fits-budget', needed, available }
    : { presentation: 'hardlink', reason: 'over-budget', needed, available };
}
