import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import { CommandFailedError, StorePathsUnavailableError, lastLines } from '../core/errors.js';
import type { NixStore } from '../core/ports/nix-store.js';
import { ProcessRunner, type RunOptions } from '../core/ports/process-runner.js';
import { STORE_DIR } from '../core/store-path.js';
import { NixSettings, nixConfig, physicalRoot } from './nix-settings.js';

// Paths go to nix-store in batches so a closure of thousands never exceeds ARG_MAX.
const BATCH = 1000;

function batches<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += BATCH) out.push(items.slice(i, i + BATCH));
  return out;
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

/** The node store through the `nix` and `nix-store` commands. */
@injectable()
export class NixCliStore implements NixStore {
  readonly storeDir = STORE_DIR;
  private readonly root: string;
  private readonly env: Record<string, string>;
  private systemName?: Promise<string>;

  constructor(
    @inject(ProcessRunner) private readonly runner: ProcessRunner,
    @inject(NixSettings) private readonly settings: NixSettings,
  ) {
    this.root = physicalRoot(settings.storeUri);
    this.env = { NIX_CONFIG: nixConfig(settings) };
  }

  system(): Promise<string> {
    this.systemName ??= this.settings.system
      ? Promise.resolve(this.settings.system)
      : this.nix('nix', ['eval', '--raw', '--impure', '--expr', 'builtins.currentSystem']).then((r) => r.stdout.trim());
    return this.systemName;
  }

  physicalPath(storePath: string): string {
    return this.root === '/' ? storePath : join(this.root, storePath);
  }

  async invalidPaths(paths: readonly string[]): Promise<string[]> {
    const invalid: string[] = [];
    for (const batch of batches(paths)) {
      const result = await this.nix('nix-store', [...this.storeArgs(), '--check-validity', '--print-invalid', ...batch]);
      invalid.push(...lines(result.stdout));
    }
    return invalid;
  }

  async substitute(paths: readonly string[]): Promise<void> {
    const result = await this.nix('nix-store', [...this.storeArgs(), '--realise', ...paths], { allowFailure: true });
    if (result.exitCode === 0) return;
    const stillMissing = await this.invalidPaths(paths);
    throw new StorePathsUnavailableError(stillMissing.length > 0 ? stillMissing : paths, lastLines(result.stderr, 3));
  }

  async closure(roots: readonly string[]): Promise<string[]> {
    const result = await this.nix('nix-store', [...this.storeArgs(), '--query', '--requisites', ...roots]);
    return [...new Set(lines(result.stdout))].sort();
  }

  async writeRegistration(paths: readonly string[], rootDir: string): Promise<void> {
    for (const batch of batches(paths)) {
      await this.nix('nix-store', ['--store', `local?root=${rootDir}`, '--load-db'], {
        pipeFrom: { command: 'nix-store', args: [...this.storeArgs(), '--dump-db', ...batch] },
      });
    }
  }

  async addGcRoots(holder: string, roots: readonly string[]): Promise<void> {
    await this.removeGcRoots(holder);
    const dir = this.gcRootDir();
    await mkdir(dir, { recursive: true });
    // Created aside and renamed over: another plugin on the same store (tests run several) may hold the same view key.
    await Promise.all(
      roots.map(async (root, index) => {
        const link = join(dir, `${holder}-${index}`);
        const aside = join(dir, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
        await symlink(root, aside);
        await rename(aside, link);
      }),
    );
  }

  async removeGcRoots(holder: string): Promise<void> {
    const dir = this.gcRootDir();
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(
      names.filter((name) => name.startsWith(`${holder}-`)).map((name) => unlink(join(dir, name)).catch(() => undefined)),
    );
  }

  async check(): Promise<void> {
    await this.nix('nix', ['store', 'ping', ...this.storeArgs()], { timeoutMs: 20_000 });
  }

  /** Where this store keeps nixmount's GC roots (inside the store's own gcroots, so `nix-collect-garbage` honours them). */
  gcRootDir(): string {
    return join(this.root, 'nix/var/nix/gcroots/nixmount');
  }

  private storeArgs(): string[] {
    return this.settings.storeUri ? ['--store', this.settings.storeUri] : [];
  }

  private async nix(command: string, args: string[], options: RunOptions = {}) {
    try {
      return await this.runner.run(command, args, { ...options, env: { ...this.env, ...options.env } });
    } catch (error) {
      if (error instanceof CommandFailedError) throw error;
      throw new CommandFailedError(command, undefined, String(error), { cause: error });
    }
  }
}
