import type { ProcessRunner } from '../platform/process-runner.js';
import { info, ok, problem, type Check, type CheckResult } from './check.js';
import { onPath } from '../platform/on-path.js';

const NAME = 'orchestrator';
const TIMEOUT_MS = 8_000;

type Version = [number, number, number];

/** The first `vX.Y.Z` (or `X.Y.Z`) in a version text: `Kubernetes v1.25.3`, `Nomad v1.2.6 (…)`. */
export function parseVersion(text: string): Version | undefined {
  const match = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

function atLeast(version: Version, floor: Version): boolean {
  for (let i = 0; i < 3; i++) if (version[i] !== floor[i]) return version[i]! > floor[i]!;
  return true;
}

/**
 * Old kubelets and Nomad clients send the socket's path as the gRPC `:authority`; Node's
 * HTTP/2 refuses such a call before nixmount sees it (see src/csi/refused-streams.ts), so the
 * plugin looks healthy while every mount fails. Fixed in Kubernetes 1.26, and in Nomad 1.3.0,
 * 1.2.7 and 1.1.13 (hashicorp/nomad#12359).
 */
export const ORCHESTRATORS = {
  kubernetes: {
    binary: 'kubelet',
    args: ['--version'],
    fixed: (version: Version) => atLeast(version, [1, 26, 0]),
    caveat: 'kubelet before Kubernetes 1.26 sends the socket path as the gRPC :authority, which Node\'s HTTP/2 refuses before nixmount sees the call (the plugin logs "a gRPC call was refused…")',
    fix: 'run Kubernetes 1.26 or later on this node',
    where: 'kubectl get node NODE -o jsonpath=\'{.status.nodeInfo.kubeletVersion}\'',
  },
  nomad: {
    binary: 'nomad',
    args: ['version'],
    fixed: (version: Version) => atLeast(version, [1, 3, 0]) || (version[0] === 1 && version[1] === 2 && version[2] >= 7) || (version[0] === 1 && version[1] === 1 && version[2] >= 13),
    caveat: 'Nomad clients before 1.3.0 (other than 1.2.7+ and 1.1.13+) send the socket path as the gRPC :authority, which Node\'s HTTP/2 refuses before nixmount sees the call (hashicorp/nomad#12359; the plugin logs "a gRPC call was refused…")',
    fix: 'run Nomad 1.3.0 or later (or 1.2.7+, 1.1.13+) on this node',
    where: 'nomad node status -self',
  },
} as const;

/**
 * The orchestrator's version where its binary is on this PATH (the host's, as under Nomad's
 * raw_exec); elsewhere (the plugin's container) it cannot be read, and the caveat is info.
 */
export function orchestratorCheck(orchestrator: string, runner: ProcessRunner, label = `--orchestrator ${orchestrator}`): Check {
  return {
    name: NAME,
    timeoutMs: TIMEOUT_MS,
    async run(): Promise<CheckResult> {
      const known = ORCHESTRATORS[orchestrator as keyof typeof ORCHESTRATORS];
      if (!known) return ok(NAME, `${label}: no kubelet or Nomad client calls the plugin, so their versions do not matter`);
      const binary = onPath(known.binary);
      const said = binary ? await runner.run(binary, known.args, { timeoutMs: TIMEOUT_MS - 2_000, allowFailure: true }).catch(() => undefined) : undefined;
      const text = said?.exitCode === 0 ? said.stdout.split('\n')[0]!.trim() : '';
      const version = parseVersion(text);
      if (!binary || !version) {
        const why = binary ? `${binary} does not say its version` : `no ${known.binary} on this PATH`;
        return info(NAME, `${known.caveat}; ${why}, so this node's version cannot be read from here`, `make sure: ${known.fix} (${known.where})`);
      }
      if (known.fixed(version)) return ok(NAME, `${text} (${binary}) sends a valid gRPC :authority`);
      return problem(NAME, `${text} (${binary}): ${known.caveat}`, known.fix);
    },
  };
}
