import test from 'ava';
import { status } from '@grpc/grpc-js';
import type { CsiClient } from '../../helpers/csi-client.js';
import { NomadClientSim } from '../../helpers/nomad-harness.js';

/** A client whose Probe fails with `codes` in turn, then answers ready. */
function flakyClient(codes: number[]): CsiClient {
  const queue = [...codes];
  return {
    call: async (_service: string, method: string) => {
      if (method === 'Probe' && queue.length > 0) throw Object.assign(new Error('flaky'), { code: queue.shift(), details: 'flaky' });
      if (method === 'GetPluginCapabilities' || method === 'NodeGetCapabilities') return { capabilities: [] };
      if (method === 'NodeGetInfo') return { node_id: 'n', max_volumes_per_node: '0', accessible_topology: null };
      return { ready: { value: true } };
    },
  } as unknown as CsiClient;
}

test('the harness retries UNAVAILABLE, DEADLINE_EXCEEDED and ABORTED up to three tries, like a Nomad client', async (t) => {
  const sim = new NomadClientSim(flakyClient([status.UNAVAILABLE, status.ABORTED]), '/local/csi');
  await sim.fingerprint();
  t.deepEqual(sim.calls.slice(0, 4), ['Probe', 'Probe', 'Probe', 'GetPluginInfo']);

  const failing = new NomadClientSim(flakyClient([status.DEADLINE_EXCEEDED, status.UNAVAILABLE, status.ABORTED]), '/local/csi');
  const error = await t.throwsAsync(failing.fingerprint());
  t.is((error as Error & { code: number }).code, status.ABORTED);
  t.deepEqual(failing.calls, ['Probe', 'Probe', 'Probe']);

  const invalid = new NomadClientSim(flakyClient([status.INVALID_ARGUMENT]), '/local/csi');
  await t.throwsAsync(invalid.fingerprint());
  t.deepEqual(invalid.calls, ['Probe']); // not retried
});
