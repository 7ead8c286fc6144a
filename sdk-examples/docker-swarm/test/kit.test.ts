import test from 'ava';
import { registerAdapterKit } from 'nixmount/sdk/testkit/ava';
import { runReplay } from 'nixmount/sdk/testkit';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADAPTER, exampleClosure, OFFLINE_NIX } from './package-files.js';

// nixmount's adapter test kit, as any adapter author runs it: the contract checks…
registerAdapterKit(test, ADAPTER, { title: 'docker-swarm' });

// …and the end-to-end replay of the module's own Swarm description through a real
// `nixmount serve --adapter-module` (root and Nix needed).
test('docker-swarm › the kit\'s replay publishes a real closure through serve and leaves nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'swarm-kit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const report = await runReplay(ADAPTER, { closure: await exampleClosure(), env: OFFLINE_NIX, dir });
  t.deepEqual(report.calls, [
    'Probe',
    'NodeGetCapabilities',
    'NodeGetInfo',
    `NodeStageVolume ${dir}/data/staged/kit0swarm0volume000000001`,
    `NodePublishVolume ${dir}/data/published/kit0swarm0volume000000001`,
    `NodeUnpublishVolume ${dir}/data/published/kit0swarm0volume000000001`,
    `NodeUnstageVolume ${dir}/data/staged/kit0swarm0volume000000001`,
  ]);
  t.is(report.publishedPaths, 2);
});
