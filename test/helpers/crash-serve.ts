import { execa, type ResultPromise } from 'execa';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { CsiClient } from './csi-client.js';
import type { MountNamespace } from './crash-namespace.js';
import { nixEnv } from './nix.js';
import { CLI } from './serve-process.js';

/** One pino JSON line a serve process wrote to stderr, with which start of the node wrote it. */
export interface LogLine {
  generation: number;
  level: number;
  msg: string;
  raw: string;
  [field: string]: unknown;
}

export interface ServeNodeOptions {
  /** Holds the socket (csi.sock). */
  dir: string;
  stateDir: string;
  /** Extra `serve` flags, e.g. ['--orchestrator', 'nomad', '--stage-publish-base-dir', base]. */
  args?: readonly string[];
  /** --view-idle; '0' (collect as soon as unheld) unless given. */
  viewIdle?: string;
  /** Run the plugin inside this mount namespace. */
  ns?: MountNamespace;
  /** A directory put first on the plugin's PATH (crash wrappers). */
  pathPrefix?: string;
  /** The plugin's working directory. */
  cwd?: string;
}

export interface StartOutcome {
  ready: boolean;
  exitCode?: number | null;
  signal?: string | null;
  stderr: string;
}

const READY_TRIES = 200; // × 100 ms: start, recovery and a first `nix store ping` on a loaded machine

/**
 * The real plugin as its own process (`node dist/src/cli.js serve …`) on a fixed state dir and
 * socket, restartable at once after a SIGKILL, as a supervisor would. Every stderr line of every
 * generation is kept (pino JSON) for "logged once" assertions. Each generation gets a fresh
 * client, as an orchestrator reconnecting would. Everything is killed on teardown.
 */
export class ServeNode {
  readonly socketPath: string;
  readonly logs: LogLine[] = [];
  generation = 0;
  child?: ResultPromise;
  client?: CsiClient;
  private stderrText = '';

  private constructor(readonly options: ServeNodeOptions) {
    this.socketPath = join(options.dir, 'csi.sock');
  }

  /** Starts the first generation; throws unless it becomes ready. */
  static async start(t: ExecutionContext, options: ServeNodeOptions): Promise<ServeNode> {
    const node = ServeNode.create(t, options);
    const outcome = await node.launch();
    if (!outcome.ready) throw new Error(`nixmount serve did not become ready (exit ${outcome.exitCode}, ${outcome.signal}): ${outcome.stderr.slice(-3000)}`);
    return node;
  }

  /** A node not yet started (call `launch`). */
  static create(t: ExecutionContext, options: ServeNodeOptions): ServeNode {
    const node = new ServeNode(options);
    t.teardown(() => node.kill9());
    return node;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get api(): CsiClient {
    if (!this.client) throw new Error('no plugin process');
    return this.client;
  }

  /** Starts a new generation and waits (bounded) for Probe ready or for the process to exit. */
  async launch(): Promise<StartOutcome> {
    if (this.running) throw new Error('a generation is still running');
    this.generation++;
    const generation = this.generation;
    const args = [
      CLI,
      'serve',
      '--endpoint',
      `unix://${this.socketPath}`,
      '--state-dir',
      this.options.stateDir,
      '--node-id',
      'safety-node',
      '--substituters',
      '',
      '--view-idle',
      this.options.viewIdle ?? '0',
      '--log-level',
      'info',
      ...(this.options.args ?? []),
    ];
    const [command, argv] = this.options.ns ? this.options.ns.enter('node', args) : ['node', args];
    const env: Record<string, string> = { ...nixEnv };
    if (this.options.pathPrefix) env.PATH = `${this.options.pathPrefix}:${process.env.PATH ?? '/usr/bin:/bin'}`;
    const child = execa(command, argv, { env, reject: false, cwd: this.options.cwd, buffer: false, stdin: 'ignore' });
    this.child = child;
    let pending = '';
    this.stderrText = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      this.stderrText += text;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const raw of lines) this.record(raw, generation);
    });
    child.stdout?.resume();
    child.catch(() => undefined);
    this.client?.close();
    const client = new CsiClient(this.socketPath);
    this.client = client;
    for (let attempt = 0; attempt < READY_TRIES; attempt++) {
      if (!this.running) break;
      try {
        const probe = await client.call('identity', 'Probe', {}, 1000);
        if (probe.ready?.value) return { ready: true, stderr: this.stderrText };
      } catch {
        // not listening yet
      }
      await new Promise((done) => setTimeout(done, 100));
    }
    if (this.running) {
      await this.kill9();
      return { ready: false, stderr: this.stderrText };
    }
    await child.catch(() => undefined);
    return { ready: false, exitCode: child.exitCode, signal: child.signalCode, stderr: this.stderrText };
  }

  /** SIGKILLs the current generation (if any) and waits until it is reaped. */
  async kill9(): Promise<void> {
    this.client?.close();
    this.client = undefined;
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await child.catch(() => undefined);
  }

  /** Waits (bounded) for the current generation to die by itself (e.g. killed by a crash wrapper). */
  async waitExit(timeoutMs: number): Promise<boolean> {
    const child = this.child;
    if (!child) return true;
    const deadline = Date.now() + timeoutMs;
    while (this.running && Date.now() < deadline) await new Promise((done) => setTimeout(done, 10));
    if (this.running) return false;
    await child.catch(() => undefined);
    this.client?.close();
    this.client = undefined;
    return true;
  }

  /** SIGTERM and wait (bounded; SIGKILL after 15 s): a clean stop. */
  async stop(): Promise<number | null> {
    const child = this.child;
    if (!child || !this.running) return child?.exitCode ?? null;
    this.client?.close();
    this.client = undefined;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await child.catch(() => undefined);
    clearTimeout(timer);
    return child.exitCode;
  }

  /** Kills the current generation at once and starts the next on the same state dir and socket. */
  async restart(): Promise<StartOutcome> {
    await this.kill9();
    return this.launch();
  }

  /** Log lines at `level` or above (pino: 50 error, 40 warn) mentioning `text`. */
  logged(text: string, minLevel = 50, generation?: number): LogLine[] {
    return this.logs.filter((line) => line.level >= minLevel && line.raw.includes(text) && (generation === undefined || line.generation === generation));
  }

  private record(raw: string, generation: number): void {
    if (!raw.trim()) return;
    try {
      const parsed = JSON.parse(raw) as { level?: number; msg?: string };
      this.logs.push({ ...parsed, generation, level: Number(parsed.level ?? 0), msg: String(parsed.msg ?? ''), raw });
    } catch {
      this.logs.push({ generation, level: 60, msg: raw, raw }); // not JSON: a crash or a console line
    }
  }
}
