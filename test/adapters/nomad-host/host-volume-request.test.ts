import test from 'ava';
import { hostVolumeRequest, parseOperation, parseParameters } from '../../../src/adapters/nomad-host/host-volume-request.js';

const BASE = { DHV_VOLUMES_DIR: '/opt/nomad/data/host_volumes/', DHV_VOLUME_ID: '02eb1d8e-945e-50ee-7640-68b92f622870' };

test('DHV_PARAMETERS: Nomad\'s "null" and absent mean no parameters; anything but an object of strings is refused by name', (t) => {
  t.deepEqual(parseParameters('null'), {});
  t.deepEqual(parseParameters(undefined), {});
  t.deepEqual(parseParameters('{"paths":"/nix/store/x","readOnly":"false"}'), { paths: '/nix/store/x', readOnly: 'false' });
  t.throws(() => parseParameters('{"paths":'), { message: /^DHV_PARAMETERS is not JSON: "\{\\"paths\\":"$/ });
  t.throws(() => parseParameters('["a"]'), { message: /is not a JSON object/ });
  t.throws(() => parseParameters('{"n":1}'), { message: 'parameter "n" must be a string' });
});

test('create: the path is DHV_VOLUMES_DIR/DHV_VOLUME_ID, readOnly is taken out of the context and defaults to true', (t) => {
  // Variables it does not read (DHV_NODE_ID, …) are not carried to a serve.
  const request = hostVolumeRequest('create', { ...BASE, DHV_PARAMETERS: '{"paths":"/nix/store/x"}', DHV_NODE_ID: 'n1' });
  t.deepEqual(request, {
    operation: 'create',
    volumeId: BASE.DHV_VOLUME_ID,
    path: `/opt/nomad/data/host_volumes/${BASE.DHV_VOLUME_ID}`,
    readonly: true,
    context: { paths: '/nix/store/x' },
    env: { ...BASE, DHV_PARAMETERS: '{"paths":"/nix/store/x"}' },
  });
  t.deepEqual(hostVolumeRequest(request.operation, request.env), request, 'a serve reading the carried variables gets the same request');
  const writable = hostVolumeRequest('create', { ...BASE, DHV_PARAMETERS: '{"paths":"/nix/store/x","readOnly":"false"}' });
  t.false(writable.readonly);
  t.deepEqual(writable.context, { paths: '/nix/store/x' });
  t.throws(() => hostVolumeRequest('create', { ...BASE, DHV_PARAMETERS: '{"readOnly":"False"}' }), { message: /readOnly "False" must be "true" \(the default\) or "false"/ });
});

test('delete: parameters are not read (a volume whose create failed on them is still deleted), and DHV_CREATED_PATH never moves the path', (t) => {
  const request = hostVolumeRequest('delete', { ...BASE, DHV_PARAMETERS: '{"readOnly":"nonsense"', DHV_CREATED_PATH: '/opt/nomad/data/host_volumes' });
  t.is(request.path, `/opt/nomad/data/host_volumes/${BASE.DHV_VOLUME_ID}`);
  t.is(request.createdPath, '/opt/nomad/data/host_volumes');
  t.deepEqual(request.context, {});
  t.deepEqual(hostVolumeRequest('delete', request.env), request);
});

test('missing or unusable variables are refused by name', (t) => {
  t.throws(() => hostVolumeRequest('create', { DHV_VOLUME_ID: 'x' }), { message: /^DHV_VOLUMES_DIR is not set/ });
  t.throws(() => hostVolumeRequest('create', { DHV_VOLUMES_DIR: '/v' }), { message: /^DHV_VOLUME_ID is not set/ });
  t.throws(() => hostVolumeRequest('create', { DHV_VOLUMES_DIR: 'relative', DHV_VOLUME_ID: 'x' }), { message: /is not an absolute path/ });
  t.throws(() => hostVolumeRequest('delete', { DHV_VOLUMES_DIR: '/v', DHV_VOLUME_ID: 'x'.repeat(256) }), { message: /cannot name a directory/ });
});

test('the operation comes from the first argument, and DHV_OPERATION must agree with it', (t) => {
  t.is(parseOperation(['fingerprint'], {}), 'fingerprint');
  t.is(parseOperation([], { DHV_OPERATION: 'delete' }), 'delete');
  t.throws(() => parseOperation(['create', 'extra'], {}), { message: /unexpected arguments after "create": extra/ });
  t.throws(() => parseOperation(['create'], { DHV_OPERATION: 'delete' }), { message: /the argument says "create" but DHV_OPERATION says "delete"/ });
  t.throws(() => parseOperation(['version'], {}), { message: /unknown operation "version"/ });
});
