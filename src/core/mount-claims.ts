import type { PathClaim } from './path-locks.js';

/**
 * Which paths each node operation locks, in one place. A target or staging path holds
 * one mount stack and one record, so every operation on it is alone there. A publish
 * from a staging path also shares that path: many publishes from one stage may run
 * together (Nomad publishes each allocation from the same staging path), but a stage
 * or unstage of it waits for them, and they for it, so an unstage never sees "no
 * publish from here" while one is about to mount the view it releases.
 */
export const mountClaims = {
  publish: (targetPath: string, stagingPath?: string): PathClaim => ({ exclusive: [targetPath], shared: stagingPath ? [stagingPath] : [] }),
  unpublish: (targetPath: string): PathClaim => ({ exclusive: [targetPath] }),
  stage: (stagingPath: string): PathClaim => ({ exclusive: [stagingPath] }),
  unstage: (stagingPath: string): PathClaim => ({ exclusive: [stagingPath] }),
};
