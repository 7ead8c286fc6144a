import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { createHash } from 'node:crypto';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CsiClient } from '../src/csi/csi-client.js';
import { BENCH_NIX_ENV } from './commands.js';

// NIXMOUNT_BENCH_CLI runs another build of the plugin (e.g. an older commit) under the same bench.
const CLI = process.env.NIXMOUNT_BENCH_CLI ?? fileURLToPath(new URL('../src/cli.js', import.meta.url));
const READY_ATTEMPTS = 2000; // polls 5–10 ms apart

/**
 * `nixmount serve` as its own process, like on a node: its RSS is the plugin's
 * alone, and the CSI client (in the bench process) talks to it over the socket.
 * Views built are counted from the plugin's own state: every build starts as a
 * `.building-<key>-<random>` directory in its views directory, which the bench watches.
 */
export class PluginProcess {
  readonly client: CsiClient;
  /** Milliseconds from spawning `serve` to its first Probe answering ready. */
  readyMs = 0;
  /** Where it serves /metrics, read from its log (started with --metrics-address). */
  metricsUrl?: string;
  private readonly builds = new Set<string>();
  private restartWith?: () => Promise<PluginProcess>;
  private watcher?: FSWatcher;
  private exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly stateDir: string,
    private readonly socketPath: string,
  ) {
    this.client = new CsiClient(socketPath);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let pending = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        reportProblem(line);
        this.metricsUrl ??= /"url":"([^"]+)".*"msg":"serving metrics"/.exec(line)?.[1];
      }
    });
  }

  static async start(dir: string, extraNodeArgs: string[] = [], serveArgs: string[] = []): Promise<PluginProcess> {
    const stateDir = join(dir, 'state');
    const socketPath = join(dir, 'csi.sock');
    const args = [
      ...extraNodeArgs, CLI, 'serve',
      '--endpoint', `unix://${socketPath}`,
      '--state-dir', stateDir,
      '--node-id', 'bench-node',
      '--view-idle', '0', // views go as soon as their last volume does: every cold publish is really cold
      '--substituters', '',
      '--log-level', 'info',
      ...serveArgs,
    ];
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { env: BENCH_NIX_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    const plugin = new PluginProcess(child, stateDir, socketPath);
    plugin.restartWith = () => PluginProcess.start(dir, extraNodeArgs, serveArgs);
    await plugin.waitReady();
    plugin.readyMs = Number(process.hrtime.bigint() - started) / 1e6;
    plugin.watchBuilds();
    return plugin;
  }

  /** Stops this process (its mounts, records and roots stay, as on a node) and starts another on the same state. */
  async restart(): Promise<PluginProcess> {
    await this.stop({ keepRoots: true });
    await rm(this.socketPath, { force: true }); // so readiness waits for the new process's socket
    return this.restartWith!();
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Views the plugin started building since it started (distinct `.building-*` directories it made). */
  get viewsBuiltCount(): number {
    return this.builds.size;
  }

  private watchBuilds(): void {
    this.watcher = watch(join(this.stateDir, 'views'), (_event, name) => {
      if (name?.startsWith('.building-')) this.builds.add(name);
    });
  }

  async residentBytes(): Promise<{ rss: number; peak: number }> {
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kib('VmRSS'), peak: kib('VmHWM') };
  }

  /** Its /metrics text (the metrics server listens before the socket, so a ready plugin has logged its URL). */
  async scrapeMetrics(): Promise<string> {
    if (!this.metricsUrl) throw new Error('the plugin logged no metrics URL: was it started with --metrics-address?');
    return (await fetch(this.metricsUrl)).text();
  }

  async viewDirs(): Promise<string[]> {
    const names = await readdir(join(this.stateDir, 'views')).catch(() => [] as string[]);
    return names.filter((name) => !name.startsWith('.')).map((name) => join(this.stateDir, 'views', name));
  }

  /** SIGTERM (graceful), SIGKILL after 15 s; then drops the GC roots it may have left (its own directory). */
  async stop(options: { keepRoots?: boolean } = {}): Promise<void> {
    this.watcher?.close();
    this.client.close();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      await this.exited;
      clearTimeout(timer);
    }
    if (options.keepRoots) return; // a restart follows
    // nixmount keeps one GC-root directory per state dir (see NixCliStore.gcRootDir).
    const ownRoots = createHash('sha256').update(this.stateDir).digest('hex').slice(0, 16);
    await rm(join('/nix/var/nix/gcroots/nixmount', ownRoots), { recursive: true, force: true });
  }

  private async waitReady(): Promise<void> {
    for (let attempt = 0; attempt < READY_ATTEMPTS; attempt++) {
      if (this.child.exitCode !== null) throw new Error(`nixmount serve exited with ${this.child.exitCode}`);
      // No call before the socket exists: a refused connection puts gRPC into its reconnect
      // back-off (about 1 s), which would be timed as start-up.
      if (!existsSync(this.socketPath)) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      try {
        const probe = (await this.client.call('identity', 'Probe', {}, 1000)) as { ready?: { value?: boolean } };
        if (probe.ready?.value !== false) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('nixmount serve did not answer Probe ready within 10 s');
  }

}

/** The plugin's errors (and anything that is not its JSON log) go to the bench's stderr. */
function reportProblem(line: string): void {
  try {
    const entry = JSON.parse(line) as { level?: number };
    if ((entry.level ?? 0) >= 50) console.error(`plugin: ${line}`);
  } catch {
    if (line.trim()) console.error(`plugin: ${line}`);
  }
}
