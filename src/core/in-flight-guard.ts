import { AbortedError } from './errors.js';

/**
 * Marks operations in flight per key. A second operation on a busy key is
 * refused with ABORTED (the CSI answer for "an operation is pending"), never queued.
 */
export class InFlightGuard {
  private readonly busy = new Map<string, string>();

  async run<T>(key: string, operation: string, task: () => Promise<T>): Promise<T> {
    const current = this.busy.get(key);
    if (current !== undefined) {
      throw new AbortedError(`an operation (${current}) is already in progress for this volume; retry later`);
    }
    this.busy.set(key, operation);
    try {
      return await task();
    } finally {
      this.busy.delete(key);
    }
  }
}
