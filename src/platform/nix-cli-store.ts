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
import type { Closure, ClosureAnswer, EvaluateOptions, Evaluation, NixStore, RealiseOptions } from '../core/ports/nix-store.js';
import { ProcessRunner, type RunOptions } from './process-runner.js';
import { boundMessage } from '../core/quote.js';
import { NodeSettings } from '../core/settings.js';
import { NixSettings, nixConfig, physicalRoot } from './nix-settings.js';
import { RealiseOutput } from './nix-realise-output.js';
import { nixErrorSummary } from './nix-error-summary.js';
import { RunningCollector, collectorSocketPath } from './running-collector.js';
import { PathInfoRegistration, parsePathInfos, type PathInfo } from './nix-registrations.js';
import { provenanceEntries, SubstitutionOrigins, writeClosureFile } from './closure-provenance.js';
import { writeSbomFile } from './cyclonedx-sbom.js';

// Every Nix call has a bound, so a hung Nix (a stuck lock, a dead NFS store) fails
// with a CommandFailedError saying it timed out instead of holding a publish forever.
// Evaluation may fetch flake inputs; a realise has no caller waiting on it (see
// RealisationTracker), so its bound only catches a hung Nix.
const EVALUATE_TIMEOUT_MS = 10 * 60_000;
const REALISE_TIMEOUT_MS = 6 * 3_600_000;
// Questions to the store's database: seconds when healthy, even for big closures.
const QUERY_TIMEOUT_MS = 2 * 60_000;
// Copying database rows or signing a closure of thousands of paths.
const REGISTER_TIMEOUT_MS = 10 * 60_000;
const BUILD_LOG_TAIL = 15;
const STORE_PATH_IN_TEXT = /\/nix\/store\/[0-9a-z]{32}-[^\s',"]*/g;
const FETCH_FAILURE = /unable to download|Couldn't resolve host|Could not resolve host|Couldn't connect to server|Connection refused|Timeout was reached/;

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
  private readonly root: string;
  private readonly gcRoots: string;
  private readonly env: Record<string, string>;
  private systemName?: Promise<string>;
  private readonly collector: RunningCollector;
  /** The cache each path realised by this process came from, for the views' closure.json. */
  private readonly origins = new SubstitutionOrigins();

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
    this.collector = new RunningCollector(collectorSocketPath(this.root));
  }

  system(): Promise<string> {
    this.systemName ??= this.settings.system
      ? Promise.resolve(this.settings.system)
      : this.nix('nix', ['eval', '--raw', '--impure', '--expr', 'builtins.currentSystem'], { timeoutMs: QUERY_TIMEOUT_MS }).then((r) => r.stdout.trim());
    return this.systemName;
  }

  physicalPath(storePath: string): string {
    return this.root === '/' ? storePath : join(this.root, storePath);
  }

  async queryClosure(roots: readonly string[]): Promise<ClosureAnswer> {
    // `path-info --recursive` answers both questions when every root is valid (the usual
    // case), and what registering the closure in a view needs, handed back with it (see
    // PathInfoRegistration); only a failure costs a second process to say which roots are missing.
    // A collection under way keeps the roots asked about (and their closures) from now to
    // its end: a publish loses the race only to deletions before it began, not to those
    // while it reads, checks and links. What keeps a view's closure for good is still
    // addGcRoots, and the check after it (a collection may start in between).
    await this.collector.protect(roots);
    const registration = await this.pathInfoClosure(roots);
    if (registration) return { valid: true, closure: { paths: registration.paths(), registration } };
    const missing = await this.missingPaths(roots);
    if (missing.length > 0) return { valid: false, missing };
    // Every root is valid, and path-info said something else than expected (another Nix): the closure the older way.
    const answer = await this.nix('nix-store', [...this.storeArgs(), '--query', '--requisites', ...roots], { timeoutMs: QUERY_TIMEOUT_MS });
    return { valid: true, closure: { paths: [...new Set(lines(answer.stdout))].sort() } };
  }

  /**
   * The closure of `roots` from `nix path-info`, with its registration; undefined
   * when it says something else. The new CLI reads a `.drv` as "its outputs" (and would
   * build them), so `.drv` roots are asked with `--derivation`, which for any other path
   * means its deriver: the two kinds are asked apart.
   */
  private async pathInfoClosure(roots: readonly string[]): Promise<PathInfoRegistration | undefined> {
    const derivations = roots.filter((root) => root.endsWith('.drv'));
    const others = roots.filter((root) => !root.endsWith('.drv'));
    const infos: PathInfo[] = [];
    for (const [group, flags] of [[others, []], [derivations, ['--derivation']]] as const) {
      if (group.length === 0) continue;
      const info = await this.nix('nix', ['path-info', ...this.storeArgs(), '--json', '--recursive', ...flags, ...group], { allowFailure: true, timeoutMs: QUERY_TIMEOUT_MS });
      const parsed = info.exitCode === 0 ? parsePathInfos(info.stdout) : undefined;
      if (!parsed) return undefined;
      infos.push(...parsed);
    }
    return new PathInfoRegistration(infos);
  }

  async missingPaths(paths: readonly string[]): Promise<string[]> {
    const missing: string[] = [];
    for (const batch of batches(paths)) {
      const result = await this.nix('nix-store', [...this.storeArgs(), '--check-validity', '--print-invalid', ...batch], { timeoutMs: QUERY_TIMEOUT_MS });
      missing.push(...lines(result.stdout));
    }
    return missing;
  }

  evaluateExpression(text: string, options: EvaluateOptions): Promise<Evaluation> {
    // The text starts on the first line so Nix's line numbers in errors are the user's own.
    const wrapped = `(let nixmountSource = (${text}\n); in if builtins.isFunction nixmountSource then nixmountSource {} else nixmountSource)`;
    // --impure for the node's NIX_PATH and currentSystem; restrict-eval so that it reads
    // only the NIX_PATH entries and the store (and fetches only nix.conf's allowed-uris):
    // the plugin runs as root, and whatever an expression reads can reach its caller.
    return this.showDerivation([...noBuilds(options), '--impure', '--option', 'restrict-eval', 'true', '--expr', wrapped], 'expression');
  }

  evaluateFlake(ref: string, options: EvaluateOptions & { refresh: boolean }): Promise<Evaluation> {
    return this.showDerivation([...noBuilds(options), ...(options.refresh ? ['--refresh'] : []), ref], `flakeRef "${ref}"`);
  }

  async realise(targets: readonly string[], options: RealiseOptions): Promise<void> {
    const output = new RealiseOutput((event) => {
      if (event.kind === 'fetching') this.origins.fetched(event.path, event.from);
      options.onEvent?.(event);
    });
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
    const stillMissing = outputs.length > 0 ? await this.missingPaths(outputs) : [];
    const problems = [...output.problems];
    if (problems.some((problem) => /not signed by any of the keys/.test(problem))) {
      const names = (this.settings.trustedPublicKeys ?? []).map((key) => key.split(':')[0]);
      problems.push(`this node trusts ${names.length > 0 ? `the keys ${names.join(', ')}` : "the keys of its nix.conf"} (--trusted-public-keys)`);
    }
    // Nix's own lines can repeat every path asked for; the error lists them (bounded) already.
    const said = problems.length > 0 ? problems.join('; ') : lastLines(result.stderr, 3);
    const detail = boundMessage(said.replace(STORE_PATH_IN_TEXT, '…'), 600);
    throw new StorePathsUnavailableError(stillMissing.length > 0 ? stillMissing : targets, `caches: ${caches}; ${detail}`);
  }

  async push(uri: string, paths: readonly string[]): Promise<void> {
    const keyFile = this.settings.pushSecretKeyFile;
    if (keyFile) {
      await this.nix('nix', ['store', 'sign', ...this.storeArgs(), '--key-file', keyFile, '--recursive', ...paths], { timeoutMs: REGISTER_TIMEOUT_MS });
    }
    const from = this.settings.storeUri ? ['--from', this.settings.storeUri] : [];
    await this.nix('nix', ['copy', ...from, '--to', uri, ...paths], { timeoutMs: REALISE_TIMEOUT_MS });
  }

  async writeRegistration(closure: Closure, rootDir: string, roots: readonly string[]): Promise<void> {
    const { paths } = closure;
    // Only this store's own answer is read; anything else is registered the older way.
    const known = closure.registration instanceof PathInfoRegistration ? closure.registration : undefined;
    const loadDb = ['--store', `local?root=${rootDir}`, '--load-db'];
    // Nix opening a database makes it an 8 MiB `reserved` file (space to GC a full disk with);
    // a view's database is never collected, and that file would cost every view 8 MiB of the store's disk.
    const options = { timeoutMs: REGISTER_TIMEOUT_MS, env: { NIX_CONFIG: `${this.env.NIX_CONFIG}\ngc-reserved-space = 0` } };
    // closure.json and the SBOM come from the same path-info answer, written beside the database.
    // They are awaited below; a database that fails first must not leave their failure unhandled.
    const provenance = this.provenance(paths, known).then(async (infos) => {
      const entries = provenanceEntries(infos, this.origins);
      await Promise.all([writeClosureFile(rootDir, entries), writeSbomFile(rootDir, roots, entries)]);
    });
    provenance.catch(() => undefined);
    // The closure came with the registration its query read (the usual case): one Nix process
    // writes it. Should this Nix refuse what another Nix's path-info said, the older way below
    // registers the same paths again (a registration of valid paths replaces theirs).
    const input = known?.loadDbInput(paths);
    if (input !== undefined) {
      const loaded = await this.nix('nix-store', loadDb, { ...options, input, allowFailure: true });
      if (loaded.exitCode === 0) return provenance;
    }
    // One --load-db sees the whole closure: it refuses a path whose references it has not
    // read yet, so loading batch by batch fails whenever a batch refers to a later one.
    // The --dump-db sources stay in batches (ARG_MAX); their output is streamed in.
    const dumps = batches(paths).map((batch) => ({ command: 'nix-store', args: [...this.storeArgs(), '--dump-db', ...batch] }));
    await Promise.all([this.nix('nix-store', loadDb, { ...options, pipeFrom: dumps }), provenance]);
  }

  /**
   * path-info's answer for `paths`: the one the closure query carried (the usual
   * case), else one `path-info --json` per batch of paths, never one per path.
   */
  private async provenance(paths: readonly string[], registration: PathInfoRegistration | undefined): Promise<PathInfo[]> {
    const known = registration?.infosOf(paths);
    if (known) return known;
    const infos: PathInfo[] = [];
    // A .drv is asked with --derivation, or the new CLI would answer for its outputs (see pathInfoClosure).
    const derivations = paths.filter((path) => path.endsWith('.drv'));
    const others = paths.filter((path) => !path.endsWith('.drv'));
    for (const [group, flags] of [[others, []], [derivations, ['--derivation']]] as const) {
      for (const batch of batches(group)) {
        const answer = await this.nix('nix', ['path-info', ...this.storeArgs(), '--json', ...flags, ...batch], { timeoutMs: QUERY_TIMEOUT_MS });
        const parsed = parsePathInfos(answer.stdout);
        if (!parsed) throw new CommandFailedError('nix path-info --json', 0, `said something else than the infos of ${batch.length} store paths`);
        infos.push(...parsed);
      }
    }
    return infos;
  }

  /**
   * Replaces `holder`'s roots. Each root is made aside and renamed over, so it is never
   * briefly missing. The directory exists only while it holds a root (one per state dir
   * ever used would pile up under the store's gcroots): the holder that drops the last
   * root removes it, and rmdir(2) refuses a directory with anything in it, so a root made
   * elsewhere keeps it. A holder whose link finds the directory gone (removed between its
   * mkdir and its link) makes it again; once its link is in, the directory cannot go.
   * Calls for one holder are serialised by the caller (the view manager's per-view lock).
   * A collection already under way is told of the roots too: it read the root directories when it began.
   */
  async addGcRoots(holder: string, roots: readonly string[]): Promise<void> {
    const dir = this.gcRootDir();
    const names = roots.map((_, index) => `${holder}-${index}`);
    await Promise.all(
      roots.map(async (root, index) => {
        const temp = join(dir, `.${names[index]}-${randomBytes(4).toString('hex')}`);
        await this.linkInto(dir, root, temp);
        await rename(temp, join(dir, names[index]!));
      }),
    );
    // Roots of an earlier, longer list for the same holder.
    const stale = (await readdir(dir)).filter((name) => name.startsWith(`${holder}-`) && !names.includes(name));
    await Promise.all(stale.map((name) => unlink(join(dir, name)).catch(() => undefined)));
    await this.collector.protect(roots);
  }

  async removeGcRoots(holder: string): Promise<void> {
    const dir = this.gcRootDir();
    const names = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((name) => name.startsWith(`${holder}-`) || name.startsWith(`.${holder}-`))
        .map((name) => unlink(join(dir, name)).catch(() => undefined)),
    );
    await this.removeRootDirIfEmpty();
  }

  async gcRootHolders(): Promise<string[]> {
    const names = await readdir(this.gcRootDir()).catch(() => [] as string[]);
    // Left empty by a plugin that kept it (or killed between its last unlink and the rmdir).
    if (names.length === 0) await this.removeRootDirIfEmpty();
    // `<holder>-<index>`, or `.<holder>-<index>-<random>` made aside by a replacement a crash interrupted.
    return [...new Set(names.map((name) => name.replace(/^\./, '').replace(/-\d+(-[0-9a-f]+)?$/, '')))];
  }

  /** The symlink `at` → `root` in `dir`, making `dir` (again) while a removal of the emptied directory races it. */
  private async linkInto(dir: string, root: string, at: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        // A recursive mkdir fails with ENOENT too when the directory goes while it works.
        await mkdir(dir, { recursive: true });
        await symlink(root, at);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 100) throw error;
      }
    }
  }

  /** Only this state dir's own directory, and only when empty (ENOTEMPTY: another view holds roots; ENOENT: gone). */
  private async removeRootDirIfEmpty(): Promise<void> {
    await rmdir(this.gcRootDir()).catch(() => undefined);
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
    if (result.exitCode !== 0) {
      // Nix's whole output is read to classify the failure; only its summary is handed back.
      const said = result.stderr;
      const message = nixErrorSummary(said);
      if (/unable to start any build/.test(said)) {
        throw new PermissionDeniedError(
          `${what} needs a build while it is evaluated (import from derivation), and this node's source policy allows substitution only (serve --builds allowed)`,
        );
      }
      if (FETCH_FAILURE.test(said)) throw new UnavailableError(`${what}: fetching its sources failed: ${message}`);
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

  private async nix(command: string, args: string[], options: RunOptions & { timeoutMs: number }) {
    let result;
    try {
      result = await this.runner.run(command, args, { ...options, env: { ...this.env, ...options.env } });
    } catch (error) {
      if (error instanceof CommandFailedError) throw error;
      throw new CommandFailedError(command, undefined, String(error), { cause: error });
    }
    // Even where a failure is an answer (allowFailure), a kill at the bound is not: say it timed out.
    if (result.timedOut) {
      // `nix store ping`, `nix-store --query`: the command and what it was asked to do.
      const operation = command === 'nix' ? args.slice(0, args[0] === 'store' ? 2 : 1) : args.filter((arg) => arg.startsWith('--') && arg !== '--store').slice(0, 1);
      const what = [command, ...operation].join(' ');
      throw new CommandFailedError(what, undefined, result.stderr, { timedOut: true, timeoutMs: options.timeoutMs });
    }
    return result;
  }
}
