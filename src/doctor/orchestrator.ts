import { info, ok, type Check } from './check.js';

const NAME = 'orchestrator';

/**
 * Old kubelets and Nomad clients send the socket's path as the gRPC `:authority`; Node's
 * HTTP/2 refuses such a call before nixmount sees it (see src/csi/refused-streams.ts),
 * so the plugin looks healthy while every mount fails. Neither version can be read from
 * the plugin's side of the socket, so doctor says what to verify.
 */
export function orchestratorCheck(orchestrator: string): Check {
  return {
    name: NAME,
    timeoutMs: 1_000,
    async run() {
      if (orchestrator === 'kubernetes') {
        return info(
          NAME,
          'kubelet before Kubernetes 1.26 sends the socket path as the gRPC :authority, which Node\'s HTTP/2 refuses before nixmount sees the call (the plugin logs "a gRPC call was refused…"); this node\'s kubelet version cannot be read from here',
          'make sure this node runs Kubernetes 1.26 or later (kubectl get node NODE -o jsonpath=\'{.status.nodeInfo.kubeletVersion}\')',
        );
      }
      if (orchestrator === 'nomad') {
        return info(
          NAME,
          'Nomad clients before 1.3.0 (other than 1.2.7+ and 1.1.13+) send the socket path as the gRPC :authority, which Node\'s HTTP/2 refuses before nixmount sees the call (hashicorp/nomad#12359; the plugin logs "a gRPC call was refused…"); this client\'s version cannot be read from here',
          'make sure this node runs Nomad 1.3.0 or later, or 1.2.7+ / 1.1.13+ (nomad node status -self)',
        );
      }
      return ok(NAME, `--orchestrator ${orchestrator}: no kubelet or Nomad client calls the plugin, so their versions do not matter`);
    },
  };
}
