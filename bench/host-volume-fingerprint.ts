import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NOMAD_FINGERPRINT_LIMIT_MS } from '../src/adapters/nomad-host/host-volume-deadlines.js';
import { fingerprintAnswer } from '../src/adapters/nomad-host/host-volume-request.js';
import { wrapperScript } from '../src/cli/host-volume-wrapper.js';
import { packageVersion } from '../src/settings/version.js';
import { formatMs, median, percentile } from './stats.js';

/**
 * Nomad's fingerprint of a host volume plugin, timed as Nomad runs it (the executable
 * with `fingerprint`, only DHV_OPERATION in its environment, cwd /) and killed at 1 s
 * by Nomad: the installed wrapper, which answers from the shell, against the Node path
 * (`nixmount host-volume fingerprint`, what the wrapper used to exec). Both are sampled
 * alternately in this one process, idle and then with a busy process on every core,
 * so both see the same machine.
 */
export interface FingerprintResult {
  runs: number;
  busyProcesses: number;
  idle: { wrapper: number[]; node: number[] };
  loaded: { wrapper: number[]; node: number[] };
}

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

/** One call's wall time, from spawn to exit; its output must be the fingerprint line. */
function oneCall(command: string, args: string[], expected: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env: { DHV_OPERATION: 'fingerprint' }, cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0 || out !== expected) reject(new Error(`${command} ${args.join(' ')}: exit ${code}, printed ${JSON.stringify(out)}`));
      else resolve(ms);
    });
  });
}

/** A process spinning on one core until killed. */
function busy(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  child.once('error', () => undefined);
  return child;
}

async function sample(runs: number, wrapper: string, expected: string): Promise<{ wrapper: number[]; node: number[] }> {
  const out = { wrapper: [] as number[], node: [] as number[] };
  // One unmeasured round first: the page cache and the dynamic loader warm up.
  for (let run = -1; run < runs; run++) {
    const viaWrapper = await oneCall(wrapper, ['fingerprint'], expected);
    const viaNode = await oneCall(process.execPath, [CLI, 'host-volume', 'fingerprint'], expected);
    if (run < 0) continue;
    out.wrapper.push(viaWrapper);
    out.node.push(viaNode);
  }
  return out;
}

export async function measureFingerprint(options: { runs?: number; busyProcesses?: number } = {}): Promise<FingerprintResult> {
  const runs = options.runs ?? 100;
  const busyProcesses = options.busyProcesses ?? availableParallelism();
  const dir = await mkdtemp(join(tmpdir(), 'nixmount-bench-fingerprint-'));
  const load: ChildProcess[] = [];
  try {
    const wrapper = join(dir, 'nixmount');
    await writeFile(wrapper, wrapperScript({ name: 'nixmount', path: process.env.PATH ?? '/usr/bin:/bin' }), { mode: 0o755 });
    const expected = fingerprintAnswer(packageVersion());
    const idle = await sample(runs, wrapper, expected);
    for (let i = 0; i < busyProcesses; i++) load.push(busy());
    const loaded = await sample(runs, wrapper, expected);
    return { runs, busyProcesses, idle, loaded };
  } finally {
    for (const child of load) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

export function fingerprintTable(result: FingerprintResult): string {
  const row = (label: string, samples: { wrapper: number[]; node: number[] }) => [
    `| ${label}, wrapper (shell) | ${formatMs(median(samples.wrapper))} | ${formatMs(percentile(samples.wrapper, 99))} |`,
    `| ${label}, Node (\`nixmount host-volume fingerprint\`) | ${formatMs(median(samples.node))} | ${formatMs(percentile(samples.node, 99))} |`,
  ];
  const ratio = (samples: { wrapper: number[]; node: number[] }, p: number) => (percentile(samples.node, p) / percentile(samples.wrapper, p)).toFixed(1);
  return [
    `Host volume fingerprint (Nomad allows ${NOMAD_FINGERPRINT_LIMIT_MS} ms): ${result.runs} calls each, alternating, idle and with ${result.busyProcesses} busy processes`,
    '',
    '| call | p50 | p99 |',
    '|---|---|---|',
    ...row('idle', result.idle),
    ...row(`loaded (${result.busyProcesses} busy)`, result.loaded),
    '',
    `Node / wrapper: idle p50 ${ratio(result.idle, 50)}×, p99 ${ratio(result.idle, 99)}×; loaded p50 ${ratio(result.loaded, 50)}×, p99 ${ratio(result.loaded, 99)}×`,
  ].join('\n');
}

// `node dist/bench/host-volume-fingerprint.js [runs] [busy processes]`: this measurement alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [runs, busyProcesses] = process.argv.slice(2).map(Number);
  const result = await measureFingerprint({ runs: runs || undefined, busyProcesses: busyProcesses || undefined });
  console.log(fingerprintTable(result));
}
