import { AbortedError } from '../core/errors.js';

/**
 * Marks operations in flight per key (the node service keys them by canonical target
 * or staging path). A second operation on a busy key is refused with ABORTED (the CSI
 * answer for "an operation is pending"), never queued.
 */
export class InFlightGuard {
  private readonly busy = new Map<string, string>();

  async run<T>(key: string, operation: string, task: () => Promise<T>): Promise<T> {
    const current = this.busy.get(key);
    if (current !== undefined) {
      throw new AbortedError(`an operation (${current}) is already in progress on this path; retry later`);
    }
    this.busy.set(key, operation);
    try {
      return await task();
    } finally {
      this.busy.delete(key);
    }
  }
}
