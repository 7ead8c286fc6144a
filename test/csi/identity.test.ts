import test from 'ava';
import { startTestPlugin } from '../helpers/plugin.js';

test('GetPluginInfo names the driver; Probe is ready once Nix and the state dir work', async (t) => {
  const node = await startTestPlugin(t, { settings: { driverName: 'nix.csi.store' } });
  const info = await node.client.call('identity', 'GetPluginInfo');
  t.is(info.name, 'nix.csi.store');
  t.is(info.vendor_version, '0.0.0-test');
  t.deepEqual(await node.client.call('identity', 'Probe'), { ready: { value: true } });
  t.deepEqual((await node.client.call('identity', 'GetPluginCapabilities')).capabilities, []);
});

test('Probe reports not ready when Nix cannot open the store', async (t) => {
  const node = await startTestPlugin(t, { nix: { storeUri: 'unix:///nonexistent/nix-daemon.socket' } });
  t.deepEqual(await node.client.call('identity', 'Probe'), { ready: { value: false } });
});

test('NodeGetInfo and NodeGetCapabilities', async (t) => {
  const node = await startTestPlugin(t);
  const info = await node.client.call('node', 'NodeGetInfo');
  t.is(info.node_id, 'test-node');
  t.is(info.max_volumes_per_node, '0');
  const caps = await node.client.call('node', 'NodeGetCapabilities');
  t.deepEqual(caps.capabilities.map((c: { rpc: { type: string } }) => c.rpc.type), ['GET_VOLUME_STATS', 'VOLUME_CONDITION', 'SINGLE_NODE_MULTI_WRITER']);
});

test('the plugin refuses a state dir another live process owns', async (t) => {
  const node = await startTestPlugin(t);
  await t.throwsAsync(startTestPlugin(t, { stateDir: node.stateDir }), { message: /in use by process/ });
});
