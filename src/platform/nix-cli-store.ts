import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rmdir, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import {
  BuildFailedError,
  CommandFailedError,
  InvalidArgumentError,
  PermissionDeniedError,
  StorePathsUnavailableError,
  UnavailableError,
  lastLines,
} from '../core/errors.js';
import type { EvaluateOptions, Evaluation, NixStore, RealiseOptions } from '../core/ports/nix-store.js';
import { ProcessRunner, type RunOptions } from '../core/ports/process-runner.js';
import { KeyedMutex } from '../core/keyed-mutex.js';
import { NodeSettings } from '../core/settings.js';
import { STORE_DIR } from '../core/store-path.js';
import { NixSettings, nixConfig, physicalRoot } from './nix-settings.js';
import { RootedPaths, closureKey } from './rooted-paths.js';
import { SingleFlight } from './single-flight.js';
import { RealiseOutput } from './nix-realise-output.js';

// Evaluation may fetch flake inputs; a realise has no caller waiting on it (see
// RealisationTracker), so its bound only catches a hung Nix.
const EVALUATE_TIMEOUT_MS = 10 * 60_000;
const REALISE_TIMEOUT_MS = 6 * 3_600_000;
const BUILD_LOG_TAIL = 15;
const FETCH_FAILURE = /unable to download|Couldn't resolve host|Could not resolve host|Couldn't connect to server|Connection refused|Timeout was reached/;

const CONFIRMED_CLOSURE_MS = 10_000;

// Paths go to nix-store in batches so a closure of thousands never exceeds ARG_MAX.
const BATCH = 1000;

function batches<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += BATCH) out.push(items.slice(i, i + BATCH));
  return out;
}

// --max-jobs 0: Nix may substitute but never start a builder (import-from-derivation included).
function noBuilds(options: { mayBuild: boolean }): string[] {
  return options.mayBuild ? [] : ['--max-jobs', '0'];
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
  /** Closures computed by `invalidPaths`, taken by the `closure` call that follows it. */
  private readonly confirmed = new Map<string, { closure: string[]; at: number }>();
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
    // The state dir is canonical (its realpath, taken at start), so `/x/state/` and a symlink to it agree.
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
    if (paths.some((path) => !this.rooted.isRooted(path)) && paths.length <= BATCH) {
      // A publish asks "valid?" and then "closure?" of the same roots. One `--requisites`
      // answers both when every root is valid (the usual case), saving a Nix start (~30 ms).
      const args = [...this.storeArgs(), '--query', '--requisites', ...paths];
      const result = await this.nix('nix-store', args, { allowFailure: true });
      if (result.exitCode === 0) {
        for (const [key, entry] of this.confirmed) if (Date.now() - entry.at >= CONFIRMED_CLOSURE_MS) this.confirmed.delete(key);
        this.confirmed.set(closureKey(paths), { closure: [...new Set(lines(result.stdout))].sort(), at: Date.now() });
        return [];
      }
    }
    const invalid: string[] = [];
    for (const batch of batches(paths.filter((path) => !this.rooted.isRooted(path)))) {
      const args = [...this.storeArgs(), '--check-validity', '--print-invalid', ...batch];
      invalid.push(...(await this.queries.run(args.join('\n'), async () => lines((await this.nix('nix-store', args)).stdout))));
    }
    return invalid;
  }

  evaluateExpression(text: string, options: EvaluateOptions): Promise<Evaluation> {
    // The text starts on the first line so Nix's line numbers in errors are the user's own.
    const wrapped = `(let nixmountSource = (${text}\n); in if builtins.isFunction nixmountSource then nixmountSource {} else nixmountSource)`;
    return this.showDerivation([...noBuilds(options), '--impure', '--expr', wrapped], 'expression');
  }

  evaluateFlake(ref: string, options: EvaluateOptions & { refresh: boolean }): Promise<Evaluation> {
    return this.showDerivation([...noBuilds(options), ...(options.refresh ? ['--refresh'] : []), ref], `flakeRef "${ref}"`);
  }

  async realise(targets: readonly string[], options: RealiseOptions): Promise<void> {
    const output = new RealiseOutput(options.onEvent);
    const args = [...this.storeArgs(), '--realise', ...targets, ...noBuilds(options)];
    const result = await this.nix('nix-store', args, {
      allowFailure: true,
      timeoutMs: REALISE_TIMEOUT_MS,
      onStderrLine: (line) => output.line(line),
    });
    if (result.exitCode === 0) return;
    const caches = this.settings.substituters?.join(' ') || 'the node\'s nix.conf';
    if (output.buildNotAllowed) {
      throw new PermissionDeniedError(
        `${targets.map((target) => target.split('!')[0]).join(', ')} must be built, and this node's source policy allows substitution only ` +
          `(serve --builds allowed); no configured cache (${caches}) has the outputs${output.problems.length > 0 ? ` (${output.problems.join('; ')})` : ''}`,
      );
    }
    if (output.failedDerivation) {
      throw new BuildFailedError(output.failedDerivation, output.buildLog.slice(-BUILD_LOG_TAIL));
    }
    const outputs = targets.filter((target) => !target.includes('!'));
    const stillMissing = outputs.length > 0 ? await this.invalidPaths(outputs) : [];
    const problems = [...output.problems];
    if (problems.some((problem) => /not signed by any of the keys/.test(problem))) {
      const names = (this.settings.trustedPublicKeys ?? []).map((key) => key.split(':')[0]);
      problems.push(`this node trusts ${names.length > 0 ? `the keys ${names.join(', ')}` : "the keys of its nix.conf"} (--trusted-public-keys)`);
    }
    const detail = problems.length > 0 ? problems.join('; ') : lastLines(result.stderr, 3);
    throw new StorePathsUnavailableError(stillMissing.length > 0 ? stillMissing : targets, `caches: ${caches}; ${detail}`);
  }

  async push(uri: string, paths: readonly string[]): Promise<void> {
    const keyFile = this.settings.pushSecretKeyFile;
    if (keyFile) {
      await this.nix('nix', ['store', 'sign', ...this.storeArgs(), '--key-file', keyFile, '--recursive', ...paths]);
    }
    const from = this.settings.storeUri ? ['--from', this.settings.storeUri] : [];
    await this.nix('nix', ['copy', ...from, '--to', uri, ...paths], { timeoutMs: REALISE_TIMEOUT_MS });
  }

  async closure(roots: readonly string[]): Promise<string[]> {
    const known = this.rooted.closureOf(roots);
    if (known) return known;
    const confirmed = this.confirmed.get(closureKey(roots));
    this.confirmed.delete(closureKey(roots));
    // Only moments old: the same publish's validity check computed it (valid paths' references never change).
    if (confirmed && Date.now() - confirmed.at < CONFIRMED_CLOSURE_MS) return confirmed.closure;
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

  async gcRootHolders(): Promise<string[]> {
    const names = await readdir(this.gcRootDir()).catch(() => [] as string[]);
    // `<holder>-<index>`, or `.<holder>-<index>-<random>` made aside by a replacement a crash interrupted.
    return [...new Set(names.map((name) => name.replace(/^\./, '').replace(/-\d+(-[0-9a-f]+)?$/, '')))];
  }

  private async unlinkRoots(holder: string): Promise<void> {
    const dir = this.gcRootDir();
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((name) => name.startsWith(`${holder}-`) || name.startsWith(`.${holder}-`))
        .map((name) => unlink(join(dir, name)).catch(() => undefined)),
    );
  }

  async check(): Promise<void> {
    await this.nix('nix', ['store', 'ping', ...this.storeArgs()], { timeoutMs: 20_000 });
  }

  /** Where this plugin keeps its GC roots: inside the store's own gcroots, so `nix-collect-garbage` honours them. */
  gcRootDir(): string {
    return this.gcRoots;
  }

  /** `nix show-derivation` of one installable: its derivation and default output (`out`, else the first). */
  private async showDerivation(args: string[], what: string): Promise<Evaluation> {
    const env = this.settings.nixPath !== undefined ? { NIX_PATH: this.settings.nixPath } : undefined;
    const result = await this.nix('nix', ['show-derivation', ...this.storeArgs(), ...args], {
      allowFailure: true,
      timeoutMs: EVALUATE_TIMEOUT_MS,
      env,
    });
    const message = result.stderr.trim().slice(-2000);
    if (result.exitCode !== 0) {
      if (/unable to start any build/.test(message)) {
        throw new PermissionDeniedError(
          `${what} needs a build while it is evaluated (import from derivation), and this node's source policy allows substitution only (serve --builds allowed)`,
        );
      }
      if (FETCH_FAILURE.test(message)) throw new UnavailableError(`${what}: fetching its sources failed: ${message}`);
      throw new InvalidArgumentError(`${what} could not be evaluated: ${message}`);
    }
    const derivations = JSON.parse(result.stdout) as Record<string, { outputs: Record<string, { path?: string }> }>;
    const [drv, ...more] = Object.keys(derivations);
    if (!drv || more.length > 0) {
      throw new InvalidArgumentError(`${what} evaluates to ${Object.keys(derivations).length} derivations; it must name exactly one`);
    }
    const outputs = derivations[drv]!.outputs;
    const name = 'out' in outputs ? 'out' : Object.keys(outputs).sort()[0];
    const path = name ? outputs[name]?.path : undefined;
    if (!name || !path) throw new InvalidArgumentError(`${what} evaluates to a derivation without a known output path (${drv})`);
    return { output: path, target: `${drv}!${name}` };
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
