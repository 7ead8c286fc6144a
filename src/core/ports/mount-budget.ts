export const MountBudget = Symbol('MountBudget');

export interface MountCount {
  /** Mounts one mount namespace may hold (Linux's fs.mount-max). */
  max: number;
  /** Mounts in the plugin's mount namespace now. */
  used: number;
}

/** How many more mounts the node can take: what bind-farm views are checked against. */
export interface MountBudget {
  /** A recent reading (it may be a moment old: see the implementation). */
  count(): Promise<MountCount>;
}
