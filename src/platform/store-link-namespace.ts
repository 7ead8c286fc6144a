import { spawn, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import { mountContaining, readMountInfo } from './mountinfo.js';
import { planStoreMount } from './store-self-bind.js';

/**
 * Where views hardlink into a store that is a bind of itself (NixOS's read-only /nix/store).
 * link(2) never crosses a mount, and unmounting the bind is not ours to do: on a host whose /
 * is shared, even an unmount in a namespace of our own propagates back. So no mount of this
 * namespace changes. A second, long-lived mount namespace (`unshare --propagation private`:
 * nothing it does reaches the host) gets a non-recursive bind of the store's parent onto
 * itself, which holds the store's directory without the bind over it; `cp -al` run there
 * (nsenter) links within one mount, into the same directories the host sees. The namespace
 * is held by a `cat` on a pipe: it ends when this process does.
 */
export class StoreLinkNamespace {
  private readonly holders = new Map<string, Promise<string[]>>();

  /**
   * The command prefix to run a linker from `storeDir` into `destination` under: [] for no
   * detour. Decided once per store (a view store's destinations all sit in its state dir).
   */
  prefixFor(storeDir: string, destination: string): Promise<string[]> {
    const key = storeDir;
    let prefix = this.holders.get(key);
    if (!prefix) {
      prefix = this.plan(storeDir, destination, () => this.holders.delete(key));
      this.holders.set(key, prefix);
      prefix.catch(() => this.holders.delete(key));
    }
    return prefix;
  }

  private async plan(storeDir: string, destination: string, onEnd: () => void): Promise<string[]> {
    const entries = await readMountInfo();
    if (planStoreMount(entries, storeDir).action !== 'self-bind') return [];
    const parent = dirname(storeDir);
    // Only a destination on the parent's own mount is reached by its non-recursive bind;
    // anything else would be written below a mount the host sees over it.
    if (mountContaining(entries, destination)?.id !== mountContaining(entries, parent)?.id) return [];
    const holder = await startHolder(parent);
    // Killed from outside: the next view starts another.
    holder.on('exit', onEnd);
    return ['nsenter', `--mount=/proc/${holder.pid}/ns/mnt`, '--'];
  }
}

const HOLDER_SCRIPT = 'mount --bind "$1" "$1" && echo ready && exec cat';

function startHolder(parent: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', HOLDER_SCRIPT, 'sh', parent], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`the store's link namespace (unshare, then mount --bind ${parent} ${parent}) ended with ${code}: ${stderr.trim()}`)));
    child.stdout.once('data', () => {
      // Not holding this process up: a one-shot command exits, its pipe closes, cat ends.
      child.unref();
      for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
      resolve(child);
    });
  });
}
