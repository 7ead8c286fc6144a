import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rmdir, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import { CommandFailedError, StorePathsUnavailableError, lastLines } from '../core/errors.js';
import type { NixStore } from '../core/ports/nix-store.js';
import { ProcessRunner, type RunOptions } from '../core/ports/process-runner.js';
import { KeyedMutex } from '../core/keyed-mutex.js';
import { NodeSettings } from '../core/settings.js';
import { STORE_DIR } from '../core/store-path.js';
import { NixSettings, nixConfig, physicalRoot } from './nix-settings.js';
import { RootedPaths } from './rooted-paths.js';
import { SingleFlight } from './single-flight.js';

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
  private readonly gcRoots: string;
  private readonly env: Record<string, string>;
  private systemName?: Promise<string>;
  private readonly rooted = new RootedPaths();
  private readonly queries = new SingleFlight<string[]>();
  // All views' roots share one directory, removed once empty: one change at a time, or a
  // removal could delete it between another view's mkdir and symlink (ENOENT).
  private readonly rootDirChanges = new KeyedMutex();

  constructor(
    @inject(ProcessRunner) private readonly runner: ProcessRunner,
    @inject(NixSettings) private readonly settings: NixSettings,
    @inject(NodeSettings) node: NodeSettings,
  ) {
    this.root = physicalRoot(settings.storeUri);
    // One directory of roots per state dir: two plugins sharing a store never touch each other's roots.
    this.gcRoots = join(this.root, 'nix/var/nix/gcroots/nixmount', createHash('sha256').update(node.stateDir).digest('hex').slice(0, 16));
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
    for (const batch of batches(paths.filter((path) => !this.rooted.isRooted(path)))) {
      const args = [...this.storeArgs(), '--check-validity', '--print-invalid', ...batch];
      invalid.push(...(await this.queries.run(args.join('\n'), async () => lines((await this.nix('nix-store', args)).stdout))));
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
    const known = this.rooted.closureOf(roots);
    if (known) return known;
    const ticket = this.rooted.ticket(roots);
    const args = [...this.storeArgs(), '--query', '--requisites', ...roots];
    // The ticket is part of the key: a query begun before the roots were rooted is never shared as one begun after.
    const closure = await this.queries.run(`${ticket ?? '-'}\n${args.join('\n')}`, async () => [...new Set(lines((await this.nix('nix-store', args)).stdout))].sort());
    this.rooted.remember(roots, closure, ticket);
    return [...closure];
  }

  async writeRegistration(paths: readonly string[], rootDir: string): Promise<void> {
    for (const batch of batches(paths)) {
      await this.nix('nix-store', ['--store', `local?root=${rootDir}`, '--load-db'], {
        pipeFrom: { command: 'nix-store', args: [...this.storeArgs(), '--dump-db', ...batch] },
      });
    }
  }

  async addGcRoots(holder: string, roots: readonly string[]): Promise<void> {
    await this.rootDirChanges.run('', async () => {
      await this.unlinkRoots(holder);
      const dir = this.gcRootDir();
      await mkdir(dir, { recursive: true });
      await Promise.all(
        roots.map(async (root, index) => {
          // Made aside and renamed over, so a root is replaced, never briefly missing or EEXIST.
          const temp = join(dir, `.${holder}-${index}-${randomBytes(4).toString('hex')}`);
          await symlink(root, temp);
          await rename(temp, join(dir, `${holder}-${index}`));
        }),
      );
    });
    this.rooted.hold(holder, roots);
  }

  async removeGcRoots(holder: string): Promise<void> {
    this.rooted.drop(holder);
    await this.rootDirChanges.run('', async () => {
      await this.unlinkRoots(holder);
      await rmdir(this.gcRootDir()).catch(() => undefined); // only succeeds once this plugin holds no root at all
    });
  }

  private async unlinkRoots(holder: string): Promise<void> {
    const dir = this.gcRootDir();
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(
      names.filter((name) => name.startsWith(`${holder}-`)).map((name) => unlink(join(dir, name)).catch(() => undefined)),
    );
  }

  async check(): Promise<void> {
    await this.nix('nix', ['store', 'ping', ...this.storeArgs()], { timeoutMs: 20_000 });
  }

  /** Where this plugin keeps its GC roots: inside the store's own gcroots, so `nix-collect-garbage` honours them. */
  gcRootDir(): string {
    return this.gcRoots;
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
