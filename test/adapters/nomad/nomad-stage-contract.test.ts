import test from 'ava';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { execa } from 'execa';
import { NomadAdapter } from '../../../src/adapters/nomad/nomad-adapter.js';
import { mountCapability } from '../../helpers/csi-client.js';
import { mountsBelow } from '../../helpers/mounts.js';
import { buildFixture } from '../../helpers/nix.js';
import { startTestPlugin } from '../../helpers/plugin.js';
import { tempDir } from '../../helpers/temp.js';

const USAGE = 'ro-file-system-multi-node-reader-only';

async function setup(t: Parameters<typeof startTestPlugin>[0]) {
  const fixture = await buildFixture();
  const base = join(await tempDir(t), 'csi');
  const node = await startTestPlugin(t, { adapter: new NomadAdapter('n1', base) });
  const staging = join(base, 'staging/default/vol', USAGE);
  const target = (alloc: string) => join(base, 'per-alloc', alloc, 'vol', USAGE);
  await mkdir(staging, { recursive: true });
  const capability = mountCapability('MULTI_NODE_READER_ONLY');
  const stage = (extra: Record<string, unknown> = {}) => ({
    volume_id: 'vol', staging_target_path: staging, volume_capability: capability, volume_context: { paths: fixture.root }, ...extra,
  });
  const publish = async (alloc: string, extra: Record<string, unknown> = {}) => {
    await mkdir(join(base, 'per-alloc', alloc, 'vol'), { recursive: true });
    return { volume_id: 'vol', staging_target_path: staging, target_path: target(alloc), volume_capability: capability, readonly: true, volume_context: { paths: fixture.root }, ...extra };
  };
  return { fixture, base, node, staging, target, stage, publish };
}

test('NodeStageVolume validates required fields and Nomad staging paths first', async (t) => {
  const { node, stage, base } = await setup(t);
  const code = (request: unknown) => node.client.code('node', 'NodeStageVolume', request);
  t.is((await code(stage({ volume_id: '' }))).code, status.INVALID_ARGUMENT);
  t.is((await code(stage({ staging_target_path: '' }))).code, status.INVALID_ARGUMENT);
  t.is((await code(stage({ volume_capability: null }))).code, status.INVALID_ARGUMENT);
  const outside = await code(stage({ staging_target_path: '/tmp/elsewhere/staging/default/vol/' + USAGE }));
  t.is(outside.code, status.INVALID_ARGUMENT);
  t.regex(outside.details, /\/tmp\/elsewhere/);
  const badUsage = await code(stage({ staging_target_path: join(base, 'staging/default/vol/mounted') }));
  t.is(badUsage.code, status.INVALID_ARGUMENT);
  t.regex(badUsage.details, /"mounted"/);
  t.is((await code(stage({ volume_context: { pathz: '/nix/store/x' } }))).code, status.INVALID_ARGUMENT);
});

test('stage is idempotent; other arguments are ALREADY_EXISTS; publish needs the stage', async (t) => {
  const { node, stage, publish, staging, fixture } = await setup(t);
  const code = (method: string, request: unknown) => node.client.code('node', method, request);
  t.is((await code('NodePublishVolume', await publish('a1', { staging_target_path: '' }))).code, status.FAILED_PRECONDITION);
  const notStaged = await code('NodePublishVolume', await publish('a1'));
  t.is(notStaged.code, status.FAILED_PRECONDITION);
  t.regex(notStaged.details, /not staged/);

  t.deepEqual(await code('NodeStageVolume', stage()), { code: status.OK, details: '' });
  t.is((await code('NodeStageVolume', stage())).code, status.OK);
  t.is((await code('NodeStageVolume', stage({ volume_context: { paths: fixture.closure.find((p) => p.includes('fixture-data'))! } }))).code, status.ALREADY_EXISTS);
  t.is((await code('NodeStageVolume', stage({ volume_id: 'other' }))).code, status.ALREADY_EXISTS);
  t.deepEqual(await mountsBelow(staging), [staging]);
  // A stage whose bind vanished (a reboot) is bound again by the retried stage.
  await execa('umount', [staging]);
  t.is((await code('NodeStageVolume', stage())).code, status.OK);
  t.deepEqual(await mountsBelow(staging), [staging]);
  t.is((await code('NodePublishVolume', await publish('a1'))).code, status.OK);
  t.is((await code('NodePublishVolume', await publish('a1'))).code, status.OK);
});

test('unstage: not staged is OK, refused while a publish from it remains, and survives a restart', async (t) => {
  const { node, stage, publish, staging, target, base } = await setup(t);
  const code = (n: typeof node, method: string, request: unknown) => n.client.code('node', method, request);
  t.is((await code(node, 'NodeUnstageVolume', { volume_id: 'vol', staging_target_path: staging })).code, status.OK);
  t.is((await code(node, 'NodeUnstageVolume', { volume_id: 'vol' })).code, status.INVALID_ARGUMENT);
  await node.client.call('node', 'NodeStageVolume', stage());
  await node.client.call('node', 'NodePublishVolume', await publish('a1'));

  const restarted = await node.restart();
  const busy = await code(restarted, 'NodeUnstageVolume', { volume_id: 'vol', staging_target_path: staging });
  t.is(busy.code, status.FAILED_PRECONDITION);
  t.true(busy.details.includes(target('a1')));
  // A new allocation after the restart mounts from the reloaded stage.
  t.is((await code(restarted, 'NodePublishVolume', await publish('a2'))).code, status.OK);
  for (const alloc of ['a1', 'a2']) {
    t.is((await code(restarted, 'NodeUnpublishVolume', { volume_id: 'vol', target_path: target(alloc) })).code, status.OK);
  }
  t.is((await code(restarted, 'NodeUnstageVolume', { volume_id: 'vol', staging_target_path: staging })).code, status.OK);
  t.is((await code(restarted, 'NodeUnstageVolume', { volume_id: 'vol', staging_target_path: staging })).code, status.OK);
  t.deepEqual(await mountsBelow(base), []);
});

test('the local adapter does not stage: no STAGE_UNSTAGE capability, NodeStageVolume UNIMPLEMENTED', async (t) => {
  const node = await startTestPlugin(t);
  const caps = await node.client.call<{ capabilities: Array<{ rpc: { type: string } }> }>('node', 'NodeGetCapabilities', {});
  t.false(caps.capabilities.some((c) => c.rpc.type === 'STAGE_UNSTAGE_VOLUME'));
  t.is((await node.client.code('node', 'NodeStageVolume', {})).code, status.UNIMPLEMENTED);
});
