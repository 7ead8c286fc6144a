import test from 'ava';
import { status } from '@grpc/grpc-js';
import { join } from 'node:path';
import { LocalAdapter } from '../../src/adapters/local/local-adapter.js';
import { VolumePublisher } from '../../src/core/volume-publisher.js';
import { VolumeStager } from '../../src/core/volume-stager.js';
import { CsiServer } from '../../src/csi/csi-server.js';
import { nodeService } from '../../src/csi/node-service.js';
import { identityService } from '../../src/csi/identity-service.js';
import { RpcHandlerFactory } from '../../src/csi/rpc-handler.js';
import { Readiness } from '../../src/csi/readiness.js';
import { CsiClient, mountCapability } from '../helpers/csi-client.js';
import { Deferred, silentLogger } from '../helpers/fakes.js';
import { createTestContainer } from '../helpers/test-container.js';
import { tempDir } from '../helpers/temp.js';

const REMOTE = '/nix/store/dddddddddddddddddddddddddddddddd-remote';

// The gRPC layer over a core whose substitution is held open, to catch a second call mid-flight.
test('a second call for a volume whose operation is in flight is ABORTED; other volumes proceed', async (t) => {
  const dir = await tempDir(t);
  const fakes = createTestContainer();
  const { container } = fakes;
  fakes.nix.add(REMOTE, [], 'cache');
  fakes.nix.realiseGate = new Deferred();
  const rpc = new RpcHandlerFactory(silentLogger);
  const adapter = new LocalAdapter('n');
  const server = new CsiServer(
    {
      identity: identityService(rpc, { settings: { driverName: 'd', driverVersion: '0', nodeId: 'n', stateDir: dir, viewIdleMs: 0 }, adapter, readiness: new Readiness(fakes.nix, dir, silentLogger) }),
      node: nodeService(rpc, { publisher: container.get(VolumePublisher), stager: container.get(VolumeStager), adapter }),
    },
    silentLogger,
  );
  const socket = await server.listen(`unix://${join(dir, 'csi.sock')}`);
  const client = new CsiClient(socket);
  t.teardown(async () => {
    client.close();
    await server.stop(100);
  });
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
