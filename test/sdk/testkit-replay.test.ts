import test from 'ava';
import { fileURLToPath } from 'node:url';
import { buildKitClosure, closureOf, KitFailure, runReplay } from '../../src/sdk/testkit/index.js';
import { mountsBelow } from '../helpers/mounts.js';
import { buildFixture, FIXTURES, nixEnv } from '../helpers/nix.js';
import { tempDir } from '../helpers/temp.js';

// The kit's end-to-end replay: a real `nixmount serve --adapter-module` per adapter,
// driven with the module's own description of its orchestrator, publishing a real closure.

for (const name of ['kubernetes', 'nomad', 'local']) {
  test(`${name}: the kit's replay publishes the fixture closure through serve --adapter-module and leaves nothing`, async (t) => {
    const fixture = await buildFixture();
    const dir = await tempDir(t, 'nixmount-kit-');
    const module = fileURLToPath(new URL(`../../src/adapters/${name}/adapter-module.js`, import.meta.url));
    const report = await runReplay(module, { closure: fixture.root, env: nixEnv, dir });
    t.is(report.publishedPaths, fixture.closure.length * report.calls.filter((call) => call.startsWith('NodePublishVolume')).length);
    t.true(report.calls.includes('NodeUnpublishVolume ' + report.calls.find((call) => call.startsWith('NodePublishVolume'))!.slice('NodePublishVolume '.length)));
    t.deepEqual(await mountsBelow(dir), []);
  });
}

test('the replay of the broken adapter fails readably, names what was left, and still cleans up', async (t) => {
  const fixture = await buildFixture();
  const dir = await tempDir(t, 'nixmount-kit-');
  const error = await t.throwsAsync(runReplay(`${FIXTURES}adapters/broken.mjs`, { closure: fixture.root, env: nixEnv, dir }), { instanceOf: KitFailure });
  t.deepEqual(error!.failed.map((check) => check.name), ['replay: nothing left']);
  t.deepEqual(error!.failed[0]!.problems.slice(0, 2), [
    `step 3 of 3: the orchestrator could not remove ${dir}/vols (ENOTEMPTY): something was left in or on it`,
    `a mount at ${dir}/vols/kit-volume`,
  ]);
  t.regex(error!.message, /^the replay of the adapter module ".*broken\.mjs":\n {2}✗ replay: nothing left\n/);
  t.deepEqual(await mountsBelow(dir), [], 'the kit unmounted what the broken replay left');
});

test('the closure expression the package ships builds offline, and the replay publishes it', async (t) => {
  const closure = await buildKitClosure({ env: nixEnv });
  t.regex(closure, /^\/nix\/store\/[0-9a-z]{32}-nixmount-kit-app$/);
  const dir = await tempDir(t, 'nixmount-kit-');
  const module = fileURLToPath(new URL('../../src/adapters/local/adapter-module.js', import.meta.url));
  const report = await runReplay(module, { closure, env: nixEnv, dir });
  t.is(report.publishedPaths, 2);
  t.is((await closureOf(closure, nixEnv)).length, 2);
  t.deepEqual(await mountsBelow(dir), []);
});
