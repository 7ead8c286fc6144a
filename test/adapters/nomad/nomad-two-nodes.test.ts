import test from 'ava';
import { access, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { NomadAdapter } from '../../../src/adapters/nomad/nomad-adapter.js';
import { mountsBelow } from '../../helpers/mounts.js';
import { buildFixture, nixEnv } from '../../helpers/nix.js';
import { NomadClientSim } from '../../helpers/nomad-harness.js';
import { startTestPlugin } from '../../helpers/plugin.js';
import { tempDir } from '../../helpers/temp.js';
import { allocId, csiClaim, group, shippedJob, shippedVolume } from './shipped-jobs.js';

/** A signed binary cache in a directory, holding `paths` and their closure: what two nodes substitute from. */
async function signedCache(dir: string, paths: string[]): Promise<{ uri: string; publicKey: string }> {
  await execa('nix-store', ['--generate-binary-cache-key', 'nixmount-test-cache', join(dir, 'sk'), join(dir, 'pk')], { env: nixEnv });
  await execa('nix', ['store', 'sign', '--key-file', join(dir, 'sk'), '-r', ...paths], { env: nixEnv });
  const uri = `file://${join(dir, 'cache')}`;
  await execa('nix', ['copy', '--to', uri, ...paths], { env: nixEnv });
  return { uri, publicKey: (await readFile(join(dir, 'pk'), 'utf8')).trim() };
}

test('allocations on two nodes each realise the closure in their own store', async (t) => {
  const fixture = await buildFixture('-nomad-nodes');
  const work = await tempDir(t);
  const cache = await signedCache(work, [fixture.root]);
  const job = await shippedJob('example-app.nomad.hcl');
  const { claim } = csiClaim(group(job, 'hello'));
  const volume = await shippedVolume('hello.volume.hcl', fixture.root);
  const hello = (root: string) => join(root, fixture.root, 'bin/hello');

  const nodes = [];
  for (const name of ['node-a', 'node-b']) {
    const root = join(work, name);
    await mkdir(root, { recursive: true });
    const base = join(root, 'local/csi');
    const node = await startTestPlugin(t, {
      adapter: new NomadAdapter(name, base),
      // The state dir lives inside the node's root, next to its store (views are hardlinks into it).
      stateDir: join(root, 'nix/var/nixmount'),
      settings: { nodeId: name },
      nix: { storeUri: `local?root=${root}`, substituters: [cache.uri], trustedPublicKeys: [cache.publicKey] },
    });
    const sim = new NomadClientSim(node.client, base);
    await sim.fingerprint();
    t.is(sim.nodeInfo?.node_id, name);
    await t.throwsAsync(access(hello(root))); // not in this node's store yet
    nodes.push({ name, root, base, node, sim });
  }

  const running = [];
  for (const n of nodes) {
    for (let i = 0; i < 2; i++) running.push({ n, alloc: await n.sim.startAllocation(allocId(), volume, claim) });
  }
  for (const n of nodes) {
    t.is(n.sim.calls.filter((c) => c === 'NodeStageVolume').length, 1);
    const inStore = await stat(hello(n.root)); // substituted into this node's own store
    for (const { alloc } of running.filter((r) => r.n === n)) {
      const inVolume = await stat(join(alloc.targetPath, 'store', fixture.root.slice('/nix/store/'.length), 'bin/hello'));
      t.is(inVolume.ino, inStore.ino); // hardlinked from this node's store, not the host's or the other node's
    }
  }
  t.not((await stat(hello(nodes[0]!.root))).ino, (await stat(hello(nodes[1]!.root))).ino);
  t.not((await stat(hello(nodes[0]!.root))).ino, (await stat(join(fixture.root, 'bin/hello'))).ino);

  for (const { n, alloc } of running) await n.sim.stopAllocation(alloc.allocId);
  for (const n of nodes) {
    t.deepEqual(await mountsBelow(n.base), []);
    t.is(n.sim.calls.at(-1), 'NodeUnstageVolume');
  }
});
