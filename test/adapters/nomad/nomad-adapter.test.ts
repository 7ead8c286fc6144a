import test from 'ava';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../../helpers/temp.js';
import { NomadAdapter } from '../../../src/adapters/nomad/nomad-adapter.js';
import { BUILTIN_ADAPTERS, createAdapterFrom } from '../../../src/adapters/registry.js';
import { InvalidArgumentError } from '../../../src/core/errors.js';

const adapter = new NomadAdapter('node-1', '/local/csi');

test('target and staging paths follow Nomad layout under stage_publish_base_dir', (t) => {
  t.notThrows(() => adapter.checkTargetPath('/local/csi/per-alloc/6b1f-uuid/nix-hello/ro-file-system-multi-node-reader-only'));
  t.notThrows(() => adapter.checkTargetPath('/local/csi/per-alloc/6b1f-uuid/nix-scratch[0]/rw-file-system-single-node-writer'));
  t.notThrows(() => adapter.checkStagingPath('/local/csi/staging/default/nix-hello/ro-file-system-multi-node-reader-only'));
  for (const bad of [
    '/local/csi/per-alloc/a/v',
    '/local/csi/per-alloc/a/v/ro-file-system-multi-node-reader-only/extra',
    '/local/csi/staging/default/v/ro-file-system-multi-node-reader-only', // a staging path is no target
    '/other/per-alloc/a/v/ro-file-system-multi-node-reader-only',
    '/local/csi/per-alloc/a/v/rw-nfs-multi-node-reader-only',
    '/local/csi/per-alloc/../v/x/ro-file-system-multi-node-reader-only',
    'local/csi/per-alloc/a/v/ro-file-system-multi-node-reader-only',
  ]) {
    const error = t.throws(() => adapter.checkTargetPath(bad), { instanceOf: InvalidArgumentError });
    t.true(error!.message.includes(bad), error!.message);
  }
  t.throws(() => adapter.checkStagingPath('/local/csi/per-alloc/a/v/ro-file-system-multi-node-reader-only'), { instanceOf: InvalidArgumentError });
});

test('node identity: never an empty node id, a topology segment naming the node', (t) => {
  t.deepEqual(adapter.nodeIdentity(), { nodeId: 'node-1', maxVolumesPerNode: 0, topology: { nixmount_node: 'node-1' } });
  t.throws(() => new NomadAdapter(' ', '/local/csi'), { message: /node id/ });
  t.throws(() => new NomadAdapter('n', 'local/csi'), { message: /absolute/ });
});

test('volume context: the user keys, unknown keys refused by name', (t) => {
  t.deepEqual(adapter.parseVolumeContext({ flakeRef: 'path:/x#y' }).spec.flakeRef, 'path:/x#y');
  t.throws(() => adapter.parseVolumeContext({ server: 'nfs' }), { instanceOf: InvalidArgumentError, message: /"server"/ });
});

test('registered as "nomad" with its stage-publish-base-dir option', (t) => {
  const nomad = createAdapterFrom(BUILTIN_ADAPTERS.nomad, { nodeId: 'n' }, { pairs: ['stage-publish-base-dir=/alloc/csi'], env: {} });
  t.is(nomad.name, 'nomad');
  t.true(nomad.supportsStaging);
  t.notThrows(() => nomad.checkStagingPath('/alloc/csi/staging/ns/v/ro-file-system-single-node-reader-only'));
  t.false(createAdapterFrom(BUILTIN_ADAPTERS.local, { nodeId: 'n' }).supportsStaging);
});

// Finding 4 under Nomad: a symlink below stage_publish_base_dir led out of it.
test('a symlink below the base dir is INVALID_ARGUMENT; canonical forms are returned', async (t) => {
  const base = await tempDir(t, 'nixmount-nomad-');
  const outside = await tempDir(t, 'nixmount-outside-');
  const nomad = new NomadAdapter('n', base, [join(base, 'state')]);
  await mkdir(join(base, 'per-alloc'), { recursive: true });
  await symlink(outside, join(base, 'per-alloc', 'alloc-1'));
  const usage = 'ro-file-system-multi-node-reader-only';
  const error = t.throws(() => nomad.checkTargetPath(`${base}/per-alloc/alloc-1/v/${usage}`), { instanceOf: InvalidArgumentError });
  t.regex(error!.message, /goes through the symlink/);
  await mkdir(join(base, 'staging', 'ns'), { recursive: true });
  await symlink(outside, join(base, 'staging', 'ns', 'v'));
  t.throws(() => nomad.checkStagingPath(`${base}/staging/ns/v/${usage}`), { instanceOf: InvalidArgumentError, message: /goes through the symlink/ });
  t.is(nomad.checkTargetPath(`${base}//per-alloc/alloc-2/v/${usage}/`), `${base}/per-alloc/alloc-2/v/${usage}`);
  t.throws(() => nomad.checkTargetPath(`${base}/per-alloc/a\0b/v/${usage}`), { instanceOf: InvalidArgumentError, message: /NUL/ });
});
