import test, { type ExecutionContext } from 'ava';
import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildFixture, FIXTURES, nixEnv } from '../helpers/nix.js';
import { startTestPlugin } from '../helpers/plugin.js';
import { publishRequest, storeOf, uniqueSalt } from '../helpers/sources.js';
import { tempDir } from '../helpers/temp.js';

/** test/fixtures/many-inputs.nix instantiated (not built) with a fresh salt: a .drv whose closure is `count` + 1 paths. */
async function derivationWithInputs(t: ExecutionContext, count: number): Promise<{ drv: string; closure: string[]; output: string }> {
  // Rooted (indirectly, from a temp dir) while the test runs: a store GC elsewhere must not take it.
  const roots = await tempDir(t, 'nixmount-drv-root-');
  const instantiate = ['--arg', 'count', String(count), '--argstr', 'salt', uniqueSalt(), '--add-root', join(roots, 'drv'), '--indirect'];
  const { stdout } = await execa('nix-instantiate', [`${FIXTURES}many-inputs.nix`, ...instantiate], { env: nixEnv });
  const drv = await readlink(stdout.trim());
  const closure = (await execa('nix-store', ['-qR', drv], { env: nixEnv })).stdout.trim().split('\n').sort();
  const output = (await execa('nix-store', ['-q', '--outputs', drv], { env: nixEnv })).stdout.trim();
  return { drv, closure, output };
}

test('a .drv root with 1,500 inputs publishes its own closure, registered in the view, and builds nothing', async (t) => {
  const { drv, closure, output } = await derivationWithInputs(t, 1500);
  t.is(closure.length, 1501);
  const node = await startTestPlugin(t);
  const target = join(node.dir, 'target');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-drv', target, { paths: drv }));

  t.deepEqual(await storeOf(target), closure);
  const [view] = await readdir(join(node.stateDir, 'views'));
  const registered = await execa('nix-store', ['--store', `local?root=${join(node.stateDir, 'views', view!)}`, '-qR', drv], {
    env: { ...nixEnv, NIX_CONFIG: `${nixEnv.NIX_CONFIG}\ngc-reserved-space = 0` },
  });
  t.deepEqual(registered.stdout.trim().split('\n').sort(), closure, 'the view database registers exactly the closure');
  const invalid = await execa('nix-store', ['--check-validity', '--print-invalid', output], { env: nixEnv });
  t.is(invalid.stdout.trim(), output, 'the derivation\'s output was not built (the node\'s policy allows no builds)');
});

test('a .drv root and an output path in one volume: each is asked as what it is, the closure is their union', async (t) => {
  const { drv, closure } = await derivationWithInputs(t, 20);
  const fixture = await buildFixture('-drv-and-output');
  const node = await startTestPlugin(t);
  const target = join(node.dir, 'target');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-mixed', target, { paths: `${drv} ${fixture.root}` }));
  t.deepEqual(await storeOf(target), [...new Set([...closure, ...fixture.closure])].sort());
});
