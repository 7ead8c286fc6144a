import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

/** What the single-node cluster's env.sh exports, and how to drive the cluster. */
export interface Cluster {
  dir: string;
  env: Record<string, string>;
  kubeletRoot: string;
  nodeName: string;
  registrarImage: string;
  livenessProbeImage: string;
  /** Runs `$KUBECTL args…`; `input` goes to its stdin. */
  kubectl(args: string[], options?: { input?: string; reject?: boolean; timeoutMs?: number }): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  /** Runs `$CTR args…` (containerd of the cluster, namespace k8s.io). */
  ctr(args: string[]): Promise<string>;
  /** up.sh; `extraEnv` e.g. K8S_KEEP_STATE=1 (etcd's data kept: the same pods come back). */
  up(extraEnv?: Record<string, string>): Promise<void>;
  /** down.sh; `extraEnv` e.g. K8S_DOWN_FAST=1 (no pod deleted first: everything just stops). */
  down(extraEnv?: Record<string, string>): Promise<void>;
  /** Stops one of up.sh's daemons (kubelet, containerd…) and starts it again with its command line. */
  restart(name: string): Promise<void>;
}

// The kubelet with gRPC's `:authority localhost`, as every kubelet since 1.26 sends: the stock 1.20
// one sends the socket path, which Node's HTTP/2 server refuses.
const KUBELET_BIN = 'bin-126auth/kubelet';

/** The cluster NIXMOUNT_E2E_K8S names, or a sentence saying why there is none. */
export async function findCluster(): Promise<Cluster | string> {
  const dir = process.env.NIXMOUNT_E2E_K8S;
  if (!dir) {
    return 'NIXMOUNT_E2E_K8S is not set: it names the k8s/ directory of a single-node cluster built with build-all.sh TARGET (see README, "End to end on Kubernetes")';
  }
  for (const script of ['env.sh', 'up.sh', 'down.sh']) {
    if (!existsSync(join(dir, script))) return `NIXMOUNT_E2E_K8S=${dir} has no ${script}: not a built cluster's k8s/ directory`;
  }
  const kubeletBin = process.env.KUBELET_BIN ?? join(dir, KUBELET_BIN);
  const { stdout } = await execa('bash', ['-c', `export KUBELET_BIN=${JSON.stringify(kubeletBin)}; . ${JSON.stringify(join(dir, 'env.sh'))} >/dev/null; env -0`]);
  const env: Record<string, string> = {};
  for (const entry of stdout.split('\0')) {
    const at = entry.indexOf('=');
    if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  for (const name of ['KUBECTL', 'CTR', 'KUBELET_ROOT', 'NODE_NAME', 'REGISTRAR_IMAGE', 'LIVENESSPROBE_IMAGE']) {
    if (!env[name]) return `${join(dir, 'env.sh')} exports no ${name}`;
  }
  const shell = (line: string, args: string[], input?: string, reject = true, timeoutMs = 120_000) =>
    execa('bash', ['-c', `${line} "$@"`, 'sh', ...args], { env, input, reject, timeout: timeoutMs }).then((result) => ({
      stdout: result.stdout,
      stderr: result.stderr,
      exitCode: result.exitCode ?? 1,
    }));
  const pidsFile = join(env.K8S_RUN ?? join(dir, 'run'), 'pids');
  return {
    dir,
    env,
    kubeletRoot: env.KUBELET_ROOT!,
    nodeName: env.NODE_NAME!,
    registrarImage: env.REGISTRAR_IMAGE!,
    livenessProbeImage: env.LIVENESSPROBE_IMAGE!,
    kubectl: (args, options = {}) => shell(env.KUBECTL!, args, options.input, options.reject ?? true, options.timeoutMs),
    ctr: async (args) => (await shell(env.CTR!, args)).stdout,
    up: async (extraEnv = {}) => {
      await execa('bash', [join(dir, 'up.sh')], { env: { ...env, ...extraEnv }, stdio: 'inherit', timeout: 300_000 });
    },
    down: async (extraEnv = {}) => {
      await execa('bash', [join(dir, 'down.sh')], { env: { ...env, ...extraEnv }, stdio: 'inherit', reject: false, timeout: 300_000 });
    },
    restart: async (name) => {
      const lines = (await readFile(pidsFile, 'utf8')).split('\n').filter(Boolean);
      const line = lines.find((entry) => entry.split(' ')[0] === name);
      if (!line) throw new Error(`up.sh started no ${name}`);
      const pid = Number(line.split(' ')[1]);
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      // In a session of its own (detached), logging where up.sh's copy logged, as up.sh starts it.
      const log = openSync(join(env.K8S_LOGS ?? join(dir, 'logs'), `${name}.log`), 'a');
      const child = spawn(argv[0]!, argv.slice(1), { env, detached: true, stdio: ['ignore', log, log] });
      child.unref();
      closeSync(log);
      await writeFile(pidsFile, lines.map((entry) => (entry === line ? `${name} ${child.pid}` : entry)).join('\n') + '\n');
    },
  };
}
