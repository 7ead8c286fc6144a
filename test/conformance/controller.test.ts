import test from 'ava';
import { status } from '@grpc/grpc-js';
import { mountCapability } from '../helpers/csi-client.js';
import { startTestPlugin } from '../helpers/plugin.js';
import { ALL_MODES, blockCapability, controllerRecords, createRequest } from './requests.js';

// Syntactically valid store paths: the controller validates, it never realises (nodes do).
const PATH_A = '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello-2.12';
const PATH_B = '/nix/store/zyxwvsrqpnmlkjihgfdcba9876543210-coreutils-9.1';

test('ControllerGetCapabilities lists exactly what is implemented', async (t) => {
  const plugin = await startTestPlugin(t, { mode: 'controller' });
  const response = await plugin.client.call('controller', 'ControllerGetCapabilities', {});
  const types = (response.capabilities as Array<{ rpc: { type: string } }>).map((c) => c.rpc.type).sort();
  t.deepEqual(types, ['CREATE_DELETE_VOLUME', 'GET_VOLUME', 'LIST_VOLUMES', 'SINGLE_NODE_MULTI_WRITER']);
});

test('CreateVolume returns a volume whose context is the parameters, with capacity 0 (unknown)', async (t) => {
  const plugin = await startTestPlugin(t, { mode: 'controller' });
  const { volume } = await plugin.client.call('controller', 'CreateVolume', createRequest('pvc-1', { paths: `${PATH_A}\n${PATH_B}` }, {
    capacity_range: { required_bytes: '1073741824', limit_bytes: '0' },
  }));
  t.regex(volume.volume_id, /^nixmount-[0-9a-f]{40}$/);
  t.deepEqual(volume.volume_context, { paths: `${PATH_A}\n${PATH_B}` });
  t.is(volume.capacity_bytes, '0');
  t.deepEqual(volume.accessible_topology, []);
  t.deepEqual(await controllerRecords(plugin), [`${volume.volume_id}.json`]);
});

test('CreateVolume is idempotent by name; other parameters or another capacity range is ALREADY_EXISTS', async (t) => {
  const plugin = await startTestPlugin(t, { mode: 'controller' });
  const range = { required_bytes: '1000', limit_bytes: '2000' };
  const first = await plugin.client.call('controller', 'CreateVolume', createRequest('v', { paths: PATH_A }, { capacity_range: range }));
  // Same closure written differently (extra whitespace) is the same request.
  const again = await plugin.client.call('controller', 'CreateVolume', createRequest('v', { paths: ` ${PATH_A}\n` }, { capacity_range: range }));
  t.is(again.volume.volume_id, first.volume.volume_id);
  t.deepEqual(again.volume.volume_context, { paths: PATH_A });
  // Other access modes are compatible: the volume supports them all.
  const otherMode = await plugin.client.call('controller', 'CreateVolume', {
    ...createRequest('v', { paths: PATH_A }, { capacity_range: range }),
    volume_capabilities: [mountCapability('SINGLE_NODE_WRITER')],
  });
  t.is(otherMode.volume.volume_id, first.volume.volume_id);

  const otherParams = await plugin.client.code('controller', 'CreateVolume', createRequest('v', { paths: PATH_B }, { capacity_range: range }));
  t.is(otherParams.code, status.ALREADY_EXISTS);
  t.regex(otherParams.details, /"v" already exists/);
  const otherRange = await plugin.client.code('controller', 'CreateVolume', createRequest('v', { paths: PATH_A }, { capacity_range: { required_bytes: '4000', limit_bytes: '4000' } }));
  t.is(otherRange.code, status.ALREADY_EXISTS);
  t.is((await controllerRecords(plugin)).length, 1);
});

test('CreateVolume accepts a 128-byte name and a 4 KiB parameter map', async (t) => {
  const plugin = await startTestPlugin(t, { mode: 'controller' });
  const paths = Array.from({ length: 74 }, () => PATH_A).join(' '); // 4069 bytes: a map just under 4 KiB
  t.true(paths.length > 4000);
  const { volume } = await plugin.client.call('controller', 'CreateVolume', createRequest('n'.repeat(128), { paths }));
  t.truthy(volume.volume_id);
});

const invalidCreates: Array<[string, (name: string) => unknown, RegExp]> = [
  ['empty name', () => createRequest('', { paths: PATH_A }), /name is required/],
  ['no capabilities', (name) => ({ ...createRequest(name, { paths: PATH_A }), volume_capabilities: [] }), /volume_capabilities is required/],
  ['a block capability', (name) => ({ ...createRequest(name, { paths: PATH_A }), volume_capabilities: [blockCapability()] }), /block access is not supported/],
  ['an fs_type', (name) => ({ ...createRequest(name, { paths: PATH_A }), volume_capabilities: [{ mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }), /fs_type: "ext4"/],
  ['an unknown parameter key', (name) => createRequest(name, { paths: PATH_A, pahts: PATH_B }), /unknown volume context key "pahts"/],
  ['a malformed store path', (name) => createRequest(name, { paths: '/nix/store/not-a-hash-hello' }), /paths: "\/nix\/store\/not-a-hash-hello" is not a well-formed store path/],
  ['a path outside the store', (name) => createRequest(name, { 'x86_64-linux': '/usr/bin' }), /x86_64-linux: "\/usr\/bin" is not under \/nix\/store/],
  ['no parameters', (name) => createRequest(name, {}), /names no closure/],
  ['limit_bytes below required_bytes', (name) => createRequest(name, { paths: PATH_A }, { capacity_range: { required_bytes: '2000', limit_bytes: '1000' } }), /limit_bytes 1000 is below required_bytes 2000/],
  ['negative required_bytes', (name) => createRequest(name, { paths: PATH_A }, { capacity_range: { required_bytes: '-1', limit_bytes: '0' } }), /required_bytes: -1 is negative/],
  ['a content source', (name) => createRequest(name, { paths: PATH_A }, { volume_content_source: { volume: { volume_id: 'x' } } }), /volume_content_source/],
];

for (const [what, request, message] of invalidCreates) {
  test(`CreateVolume with ${what} is INVALID_ARGUMENT naming the problem, and nothing is recorded`, async (t) => {
    const plugin = await startTestPlugin(t, { mode: 'controller' });
    const result = await plugin.client.code('controller', 'CreateVolume', request('bad'));
    t.is(result.code, status.INVALID_ARGUMENT);
    t.regex(result.details, message);
    t.deepEqual(await controllerRecords(plugin), []);
    t.deepEqual((await plugin.client.call('controller', 'ListVolumes', {})).entries, []);
    // The name stays free: a correct request afterwards creates the volume.
    const { volume } = await plugin.client.call('controller', 'CreateVolume', createRequest('bad', { paths: PATH_A }));
    t.truthy(volume.volume_id);
  });
}

test('DeleteVolume: missing id INVALID_ARGUMENT; unknown id, and deleting twice, OK', async (t) => {
  const plugin = await startTestPlugin(t, { mode: 'controller' });
  t.is((await plugin.client.code('controller', 'DeleteVolume', {})).code, status.INVALID_ARGUMENT);
  t.is((await plugin.client.code('controller', 'DeleteVolume', { volume_id: 'never-created' })).code, status.OK);
  t.is((await plugin.client.code('controller', 'DeleteVolume', { volume_id: '../../../etc/passwd' })).code, status.OK);
  const { volume } = await plugin.client.call('controller', 'CreateVolume', createRequest('d', { paths: PATH_A }));
  t.is((await plugin.client.code('controller', 'DeleteVolume', { volume_id: volume.volume_id })).code, status.OK);
  t.is((await plugin.client.code('controller', 'DeleteVolume', { volume_id: volume.volume_id })).code, status.OK);
  t.deepEqual(await controllerRecords(plugin), []);
  t.is((await plugin.client.code('controller', 'ControllerGetVolume', { volume_id: volume.volume_id })).code, status.NOT_FOUND);
});

test('ValidateVolumeCapabilities: required fields, NOT_FOUND, every mount access mode confirmed', async (t) => {
  const plugin = await startTestPlugin(t, { mode: 'controller' });
  const { volume } = await plugin.client.call('controller', 'CreateVolume', createRequest('c', { paths: PATH_A }));
  const caps = [mountCapability()];
  t.is((await plugin.client.code('controller', 'ValidateVolumeCapabilities', { volume_capabilities: caps })).code, status.INVALID_ARGUMENT);
  t.is((await plugin.client.code('controller', 'ValidateVolumeCapabilities', { volume_id: volume.volume_id })).code, status.INVALID_ARGUMENT);
  // Missing fields win over an unknown volume.
  t.is((await plugin.client.code('controller', 'ValidateVolumeCapabilities', { volume_id: 'nope' })).code, status.INVALID_ARGUMENT);
  t.is((await plugin.client.code('controller', 'ValidateVolumeCapabilities', { volume_id: 'nope', volume_capabilities: caps })).code, status.NOT_FOUND);

  for (const mode of ALL_MODES) {
    const response = await plugin.client.call('controller', 'ValidateVolumeCapabilities', { volume_id: volume.volume_id, volume_capabilities: [mountCapability(mode)] });
    t.is(response.confirmed?.volume_capabilities[0].access_mode.mode, mode, mode);
  }
  const all = await plugin.client.call('controller', 'ValidateVolumeCapabilities', {
    volume_id: volume.volume_id,
    volume_capabilities: ALL_MODES.map((mode) => mountCapability(mode, ['noatime'])),
    volume_context: { paths: PATH_A },
    parameters: { paths: PATH_A },
  });
  t.is(all.confirmed?.volume_capabilities.length, ALL_MODES.length);
  t.deepEqual(all.confirmed?.volume_context, { paths: PATH_A });
});

test('ValidateVolumeCapabilities does not confirm block access, fs types, foreign flags or other parameters', async (t) => {
  const plugin = await startTestPlugin(t, { mode: 'controller' });
  const { volume } = await plugin.client.call('controller', 'CreateVolume', createRequest('c', { paths: PATH_A }));
  const ask = (extra: Record<string, unknown>) =>
    plugin.client.call('controller', 'ValidateVolumeCapabilities', { volume_id: volume.volume_id, volume_capabilities: [mountCapability()], ...extra });
  const block = await ask({ volume_capabilities: [mountCapability(), blockCapability()] });
  t.is(block.confirmed, null);
  t.regex(block.message, /block access is not supported/);
  const fsType = await ask({ volume_capabilities: [{ mount: { fs_type: 'xfs', mount_flags: [] }, access_mode: { mode: 'MULTI_NODE_READER_ONLY' } }] });
  t.is(fsType.confirmed, null);
  const flags = await ask({ volume_capabilities: [mountCapability('SINGLE_NODE_WRITER', ['discard'])] });
  t.is(flags.confirmed, null);
  t.regex(flags.message, /"discard" is not supported/);
  const params = await ask({ parameters: { paths: PATH_B } });
  t.is(params.confirmed, null);
  t.regex(params.message, /parameters differs/);
});

test('ListVolumes pages by max_entries; tokens survive deletions; a foreign token is ABORTED', async (t) => {
  const plugin = await startTestPlugin(t, { mode: 'controller' });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    ids.push((await plugin.client.call('controller', 'CreateVolume', createRequest(`list-${i}`, { paths: PATH_A }))).volume.volume_id);
  }
  ids.sort();
  const all = await plugin.client.call('controller', 'ListVolumes', {});
  t.deepEqual(all.entries.map((e: any) => e.volume.volume_id), ids);
  t.is(all.next_token, '');
  t.deepEqual(all.entries[0].volume.volume_context, { paths: PATH_A });

  const first = await plugin.client.call('controller', 'ListVolumes', { max_entries: 2 });
  t.deepEqual(first.entries.map((e: any) => e.volume.volume_id), ids.slice(0, 2));
  t.not(first.next_token, '');
  // The volumes just listed disappear before the next page is asked for.
  for (const id of ids.slice(0, 2)) await plugin.client.call('controller', 'DeleteVolume', { volume_id: id });
  const second = await plugin.client.call('controller', 'ListVolumes', { max_entries: 2, starting_token: first.next_token });
  t.deepEqual(second.entries.map((e: any) => e.volume.volume_id), ids.slice(2, 4));
  const last = await plugin.client.call('controller', 'ListVolumes', { max_entries: 2, starting_token: second.next_token });
  t.deepEqual(last.entries.map((e: any) => e.volume.volume_id), ids.slice(4));
  t.is(last.next_token, '');

  t.is((await plugin.client.code('controller', 'ListVolumes', { starting_token: 'invalid-token' })).code, status.ABORTED);
  t.is((await plugin.client.code('controller', 'ListVolumes', { max_entries: -1 })).code, status.INVALID_ARGUMENT);
});

test('ControllerGetVolume: missing id INVALID_ARGUMENT, unknown NOT_FOUND, known volume with empty status', async (t) => {
  const plugin = await startTestPlugin(t, { mode: 'controller' });
  t.is((await plugin.client.code('controller', 'ControllerGetVolume', {})).code, status.INVALID_ARGUMENT);
  t.is((await plugin.client.code('controller', 'ControllerGetVolume', { volume_id: 'nope' })).code, status.NOT_FOUND);
  const { volume } = await plugin.client.call('controller', 'CreateVolume', createRequest('g', { 'x86_64-linux': PATH_A, 'aarch64-linux': PATH_B }));
  const got = await plugin.client.call('controller', 'ControllerGetVolume', { volume_id: volume.volume_id });
  t.deepEqual(got.volume.volume_context, { 'x86_64-linux': PATH_A, 'aarch64-linux': PATH_B });
  t.deepEqual(got.status.published_node_ids, []);
});

test('RPCs that are not advertised are UNIMPLEMENTED', async (t) => {
  const plugin = await startTestPlugin(t, { mode: 'controller' });
  for (const method of ['ControllerPublishVolume', 'ControllerUnpublishVolume', 'GetCapacity', 'CreateSnapshot', 'DeleteSnapshot', 'ListSnapshots', 'ControllerExpandVolume', 'ControllerModifyVolume']) {
    t.is((await plugin.client.code('controller', method, {})).code, status.UNIMPLEMENTED, method);
  }
});
