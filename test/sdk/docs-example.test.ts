import test from 'ava';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONTRACT_CHECKS, checkContract, runReplay } from '../../src/sdk/testkit/index.js';
import { fencedBlocks, readDoc, REPO } from '../docs/markdown.js';
import { mountsBelow } from '../helpers/mounts.js';
import { buildFixture, nixEnv } from '../helpers/nix.js';
import { tempDir } from '../helpers/temp.js';

// The whole adapter docs/adapters.md shows, run as its reader would: the block written to
// adapter.mjs in a package of its own with nixmount installed (linked, as `npm install
// <checkout>` does), then the kit's contract checks and its replay through a real serve.

const HEADING = '## A whole adapter in one file';

async function examplePackage(t: import('ava').ExecutionContext): Promise<string> {
  const doc = readDoc('docs/adapters.md');
  const section = doc.slice(doc.indexOf(HEADING));
  t.true(doc.includes(HEADING), `docs/adapters.md has the section ${HEADING}`);
  const block = fencedBlocks(section).find((candidate) => candidate.lang === 'js');
  if (!block) throw new Error(`no js block under ${HEADING}`);
  const dir = join(await tempDir(t, 'nixmount-docs-adapter-'), 'beehive');
  await mkdir(join(dir, 'node_modules'), { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'beehive-adapter', type: 'module', dependencies: { nixmount: '^0.1.0' } }));
  await symlink(REPO, join(dir, 'node_modules', 'nixmount'));
  await writeFile(join(dir, 'adapter.mjs'), block.body);
  return join(dir, 'adapter.mjs');
}

test('the docs\' whole adapter passes every contract check given a node id it accepts', async (t) => {
  const adapter = await examplePackage(t);
  const results = await checkContract(adapter, { nodeId: 'cell-1' });
  t.is(results.length, CONTRACT_CHECKS.length);
});

test('the docs\' whole adapter publishes a real closure through serve in the kit\'s replay and leaves nothing', async (t) => {
  const adapter = await examplePackage(t);
  const fixture = await buildFixture();
  const dir = await tempDir(t, 'nixmount-kit-');
  const report = await runReplay(adapter, { closure: fixture.root, env: nixEnv, dir, nodeId: 'cell-1' });
  t.deepEqual(report.calls, ['Probe', 'NodeGetInfo', 'NodeGetCapabilities', `NodePublishVolume ${dir}/cells/web/volumes/kit-volume`, `NodeUnpublishVolume ${dir}/cells/web/volumes/kit-volume`]);
  t.is(report.publishedPaths, fixture.closure.length);
  t.deepEqual(await mountsBelow(dir), []);
});
