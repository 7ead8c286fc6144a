import test from 'ava';
import { status } from '@grpc/grpc-js';
import { startTestPlugin } from '../helpers/plugin.js';

async function pluginCapabilities(mode: 'node' | 'controller' | 'monolith', t: Parameters<typeof startTestPlugin>[0]) {
  const plugin = await startTestPlugin(t, { mode });
  const response = await plugin.client.call('identity', 'GetPluginCapabilities', {});
  return (response.capabilities as Array<{ service?: { type: string } }>).map((capability) => capability.service?.type);
}

test('GetPluginInfo names the driver and its version; a node plugin advertises no plugin capability', async (t) => {
  const plugin = await startTestPlugin(t);
  const info = await plugin.client.call('identity', 'GetPluginInfo', {});
  t.is(info.name, 'nixmount.test');
  t.is(info.vendor_version, '0.0.0-test');
  t.deepEqual((await plugin.client.call('identity', 'GetPluginCapabilities', {})).capabilities, []);
  const renamed = await startTestPlugin(t, { settings: { driverName: 'nix.csi.store' } });
  t.is((await renamed.client.call('identity', 'GetPluginInfo', {})).name, 'nix.csi.store');
});

test('Probe answers ready once Nix and the state dir work', async (t) => {
  const plugin = await startTestPlugin(t, { mode: 'monolith' });
  t.deepEqual((await plugin.client.call('identity', 'Probe', {})).ready, { value: true });
  const node = await startTestPlugin(t);
  t.deepEqual(await node.client.call('identity', 'Probe'), { ready: { value: true } });
});

test('Probe reports not ready when Nix cannot open the store', async (t) => {
  const node = await startTestPlugin(t, { nix: { storeUri: 'unix:///nonexistent/nix-daemon.socket' } });
  t.deepEqual(await node.client.call('identity', 'Probe'), { ready: { value: false } });
});

test('the plugin refuses a state dir another live process owns', async (t) => {
  const node = await startTestPlugin(t);
  await t.throwsAsync(startTestPlugin(t, { stateDir: node.stateDir }), { message: /in use by process/ });
});

test('a node plugin does not advertise CONTROLLER_SERVICE (Nomad would then demand a controller)', async (t) => {
  t.false((await pluginCapabilities('node', t)).includes('CONTROLLER_SERVICE'));
});

for (const mode of ['controller', 'monolith'] as const) {
  test(`a ${mode} plugin advertises CONTROLLER_SERVICE`, async (t) => {
    t.true((await pluginCapabilities(mode, t)).includes('CONTROLLER_SERVICE'));
  });
}

test('a node plugin serves no Controller RPCs and a controller no Node RPCs: UNIMPLEMENTED', async (t) => {
  const node = await startTestPlugin(t, { mode: 'node' });
  t.is((await node.client.code('controller', 'ControllerGetCapabilities', {})).code, status.UNIMPLEMENTED);
  const controller = await startTestPlugin(t, { mode: 'controller' });
  t.is((await controller.client.code('node', 'NodeGetCapabilities', {})).code, status.UNIMPLEMENTED);
  t.deepEqual((await controller.client.call('identity', 'Probe', {})).ready, { value: true });
});
