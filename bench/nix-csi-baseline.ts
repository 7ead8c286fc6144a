import { spawn } from 'node:child_process';
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BENCH_NIX_ENV, run } from './commands.js';
import type { Closure } from './closures.js';
import { timed } from './stats.js';
import { inodeSharing, unsharedBytes } from './tree-usage.js';

export interface BaselineVolume {
  publishMs: number;
  unpublishMs: number;
  diskBytes: number;
  files: number;
  sharedFiles: number;
}

/** `nix-store --dump-db PATHS | nix-store --load-db` into the volume's own store. */
function copyRegistration(paths: readonly string[], volumeRoot: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const dump = spawn('nix-store', ['--dump-db', ...paths], { env: BENCH_NIX_ENV, stdio: ['ignore', 'pipe', 'inherit'] });
    const load = spawn('nix-store', ['--load-db', '--store', `local?root=${volumeRoot}`], { env: BENCH_NIX_ENV, stdio: ['pipe', 'ignore', 'inherit'] });
    dump.stdout.pipe(load.stdin);
    let pending = 2;
    const done = (name: string) => (code: number | null) => {
      if (code !== 0) reject(new Error(`${name} exited with ${code}`));
      else if (--pending === 0) resolve();
    };
    dump.once('exit', done('nix-store --dump-db'));
    load.once('exit', done('nix-store --load-db'));
  });
}

/**
 * nix-csi's publish replayed command for command on the same closure: evaluate
 * the system, build (here: find valid) the path, list its closure, rsync it into
 * a per-volume store, copy the registration, bind-mount. Every volume pays all of it.
 */
export async function nixCsiVolume(
  closure: Closure,
  volumeRoot: string,
  target: string,
  nodeStore: ReadonlySet<string>,
  options: { measure?: boolean } = {},
): Promise<BaselineVolume> {
  const { ms: publishMs } = await timed(async () => {
    const system = (await run('nix', ['eval', '--raw', '--impure', '--expr', 'builtins.currentSystem'])).trim();
    if (!system) throw new Error('nix eval gave no system');
    await run('nix', ['build', '--no-link', closure.root]);
    const paths = (await run('nix', ['path-info', '--recursive', closure.root])).trim().split('\n');
    await run('rsync', ['--one-file-system', '--recursive', '--links', '--hard-links', '--mkpath', ...paths, `${join(volumeRoot, 'nix/store')}/`]);
    await copyRegistration(paths, volumeRoot);
    await mkdir(target);
    await run('mount', ['--bind', join(volumeRoot, 'nix'), target]);
  });
  try {
    const measure = options.measure ?? true; // disk and inode sharing walk the whole copy: skipped where only time counts
    const sharing = measure ? await inodeSharing(join(target, 'store'), closure.paths) : { files: 0, shared: 0 };
    const diskBytes = measure ? await unsharedBytes([volumeRoot], nodeStore) : 0;
    const { ms: unpublishMs } = await timed(async () => {
      await run('umount', [target]);
      await rmdir(target);
      await rm(volumeRoot, { recursive: true, force: true });
    });
    return { publishMs, unpublishMs, diskBytes, files: sharing.files, sharedFiles: sharing.shared };
  } finally {
    await run('umount', [target]).catch(() => undefined);
    await rm(volumeRoot, { recursive: true, force: true });
  }
}
