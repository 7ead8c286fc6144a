export const MountBudget = Symbol('MountBudget');

export interface MountCount {
  /** Mounts one mount namespace may hold (Linux's fs.mount-max). */
  max: number;
  /** Mounts in the plugin's mount namespace now, with those claimed and not yet seen in a reading. */
  used: number;
}

/** How many more mounts the node can take: what bind-farm views are checked against. */
export interface MountBudget {
  /** A recent reading (it may be a moment old: see the implementation), claims counted in. */
  count(): Promise<MountCount>;
  /**
   * Mounts about to be made: counted by every later count() until readings can see them,
   * so publishes deciding on one reading at once cannot all spend the same room. The
   * returned function says they are made (or never will be); call it once.
   */
  claim(mounts: number): () => void;
}
