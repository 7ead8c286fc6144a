import test from 'ava';
import { status } from '@grpc/grpc-js';
import { join } from 'node:path';
import { LocalAdapter } from '../../src/adapters/local/local-adapter.js';
import { NomadAdapter } from '../../src/adapters/nomad/nomad-adapter.js';
import type { OrchestratorAdapter } from '../../src/core/orchestrator-adapter.js';
import { nodeServices } from '../../src/composition-root.js';
import { CsiServer } from '../../src/csi/csi-server.js';
import { nodeService } from '../../src/csi/node-service.js';
import { identityService } from '../../src/csi/identity-service.js';
import { RpcHandlerFactory } from '../../src/csi/rpc-handler.js';
import { Readiness } from '../../src/csi/readiness.js';
import { CsiClient, mountCapability } from '../helpers/csi-client.js';
import type { ExecutionContext } from 'ava';
import { Deferred, silentLogger } from '../helpers/fakes.js';
import { createTestContainer } from '../helpers/test-container.js';
import { tempDir } from '../helpers/temp.js';

const REMOTE = '/nix/store/dddddddddddddddddddddddddddddddd-remote';

/** The node service (and identity) over fakes, on a real gRPC socket. */
async function nodeOverFakes(t: ExecutionContext, adapter: OrchestratorAdapter) {
  const dir = await tempDir(t);
  const fakes = createTestContainer();
  const rpc = new RpcHandlerFactory(silentLogger);
  const server = new CsiServer(
    {
      identity: identityService(rpc, { settings: { driverName: 'd', driverVersion: '0', nodeId: 'n', stateDir: dir, viewIdleMs: 0 }, adapter, readiness: new Readiness(fakes.nix, dir, silentLogger) }),
      node: nodeService(rpc, { volumes: nodeServices(fakes.container).volumesFor(adapter), adapter }),
    },
    silentLogger,
  );
  const client = new CsiClient(await server.listen(`unix://${join(dir, 'csi.sock')}`));
  t.teardown(async () => {
    client.close();
    await server.stop(100);
  });
  return { fakes, client };
}

// The gRPC layer over a core whose substitution is held open, to catch a second call mid-flight.
test('a second call for a volume whose operation is in flight is ABORTED; other volumes proceed', async (t) => {
  const { fakes, client } = await nodeOverFakes(t, new LocalAdapter('n'));
  fakes.nix.add(REMOTE, [], 'cache');
  fakes.nix.realiseGate = new Deferred();
  const request = { volume_id: 'slow', target_path: '/t/slow', volume_capability: mountCapability(), readonly: true, volume_context: { paths: REMOTE } };
  const first = client.call('node', 'NodePublishVolume', request);
  for (let i = 0; i < 1000 && fakes.nix.calls.realise.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(fakes.nix.calls.realise.length, 1, 'the first publish reached its realise within 5 s');
  const second = await client.code('node', 'NodePublishVolume', request);
  t.is(second.code, status.ABORTED);
  t.regex(second.details, /already in progress/);
  t.is((await client.code('node', 'NodeUnpublishVolume', { volume_id: 'slow', target_path: '/t/slow' })).code, status.ABORTED);
  t.is((await client.code('node', 'NodeUnpublishVolume', { volume_id: 'other', target_path: '/t/other' })).code, status.OK);
  fakes.nix.realiseGate.resolve();
  await first;
  t.true(fakes.mounter.mounts.has('/t/slow'));
});

const USAGE = 'ro-file-system-multi-node-reader-only';

test('a publish from a staging path and the unstage of that path exclude each other: the unstage is ABORTED while the publish runs, then refused while it stands', async (t) => {
  const { fakes, client } = await nodeOverFakes(t, new NomadAdapter('n', '/csi'));
  fakes.nix.add(REMOTE);
  const staging = `/csi/staging/default/vol/${USAGE}`;
  const target = `/csi/per-alloc/a1/vol/${USAGE}`;
  const capability = mountCapability('MULTI_NODE_READER_ONLY');
  t.is((await client.code('node', 'NodeStageVolume', { volume_id: 'vol', staging_target_path: staging, volume_capability: capability, volume_context: { paths: REMOTE } })).code, status.OK);
  // The publish has found the stage and leased its view; its record is not written yet.
  fakes.dirs.createTargetGate = new Deferred();
  const calls = fakes.dirs.createTargetCalls;
  const publishing = client.code('node', 'NodePublishVolume', {
    volume_id: 'vol', staging_target_path: staging, target_path: target, volume_capability: capability, readonly: true, volume_context: { paths: REMOTE },
  });
  for (let i = 0; i < 1000 && fakes.dirs.createTargetCalls === calls; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(fakes.dirs.createTargetCalls, calls + 1, 'the publish reached its target directory');
  const racing = await client.code('node', 'NodeUnstageVolume', { volume_id: 'vol', staging_target_path: staging });
  t.is(racing.code, status.ABORTED, racing.details);
  t.regex(racing.details, /publish of volume "vol"\) is already in progress/);
  t.true(fakes.stages.records.size === 1 && fakes.mounter.mounts.has(staging), 'the stage stands');
  // Another publish from the same stage shares it.
  const second = client.code('node', 'NodePublishVolume', {
    volume_id: 'vol', staging_target_path: staging, target_path: `/csi/per-alloc/a2/vol/${USAGE}`, volume_capability: capability, readonly: true, volume_context: { paths: REMOTE },
  });
  fakes.dirs.createTargetGate.resolve();
  t.is((await publishing).code, status.OK);
  t.is((await second).code, status.OK);
  t.is(fakes.mounter.mounts.get(target)?.source, fakes.mounter.mounts.get(staging)?.source, 'the publish mounted the staged view');
  t.is((await client.code('node', 'NodeUnstageVolume', { volume_id: 'vol', staging_target_path: staging })).code, status.FAILED_PRECONDITION);
  for (const alloc of ['a1', 'a2']) {
    t.is((await client.code('node', 'NodeUnpublishVolume', { volume_id: 'vol', target_path: `/csi/per-alloc/${alloc}/vol/${USAGE}` })).code, status.OK);
  }
  t.is((await client.code('node', 'NodeUnstageVolume', { volume_id: 'vol', staging_target_path: staging })).code, status.OK);
  t.is(fakes.mounter.mounts.size, 0);
});
