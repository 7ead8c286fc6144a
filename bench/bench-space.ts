import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unmountBelow } from '../support/mounts.js';

type Cleanup = () => Promise<void>;

/**
 * The bench's scratch space: one temp dir (on /tmp, which must share the node
 * store's filesystem for hardlinks) and the cleanups that run however the bench
 * ends — normally, on an error, or on Ctrl-C. Everything mounted below the dir is
 * unmounted before it is removed.
 */
export class BenchSpace {
  private readonly cleanups: Cleanup[] = [];
  private closing?: Promise<void>;

  private constructor(readonly root: string) {}

  static async create(): Promise<BenchSpace> {
    const space = new BenchSpace(await mkdtemp(join(tmpdir(), 'nixmount-bench-')));
    const onSignal = (signal: NodeJS.Signals) => {
      console.error(`\nbench: ${signal}, cleaning up…`);
      space.close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    return space;
  }

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  /** Cleanups run last-registered first. */
  onClose(cleanup: Cleanup): void {
    this.cleanups.push(cleanup);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const cleanup of this.cleanups.reverse()) {
        await cleanup().catch((error: unknown) => console.error(`bench: cleanup step failed: ${String(error)}`));
      }
      await unmountBelow(this.root);
      await rm(this.root, { recursive: true, force: true });
    })();
    return this.closing;
  }
}
