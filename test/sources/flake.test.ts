import test from 'ava';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { execa } from 'execa';
import { FIXTURES, nixEnv } from '../helpers/nix.js';
import { startTestPlugin } from '../helpers/plugin.js';
import { assertNothingLeft, buildCount, counterFile, nixBuildClosure, publishRequest, storeOf, uniqueSalt } from '../helpers/sources.js';
import { tempDir } from '../helpers/temp.js';

/** A local flake whose default package is test/fixtures/counted.nix with a fresh salt. */
async function localFlake(t: Parameters<typeof tempDir>[0], counter: string, salt: string, at?: string): Promise<string> {
  const dir = at ?? (await tempDir(t, 'nixmount-flake-'));
  await mkdir(dir, { recursive: true });
  const system = (await execa('nix', ['eval', '--raw', '--impure', '--expr', 'builtins.currentSystem'], { env: nixEnv })).stdout.trim();
  await copyFile(join(FIXTURES, 'counted.nix'), join(dir, 'counted.nix'));
  await writeFile(
    join(dir, 'flake.nix'),
    `{
  outputs = { self }: {
    packages.${system}.default = import ./counted.nix { salt = "${salt}"; counter = "${counter}"; system = "${system}"; };
  };
}
`,
  );
  return dir;
}

test('a local path: flake publishes, and its closure is the one nix build gives', async (t) => {
  const node = await startTestPlugin(t, { sources: { policy: { allowFlakes: true, allowBuilds: true } } });
  const counter = await counterFile(t);
  const salt = uniqueSalt();
  const ref = `path:${await localFlake(t, counter, salt)}#default`;
  const target = join(node.dir, 'target');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-flake', target, { flakeRef: ref }));

  t.is(await readFile(join(target, 'var/result/greeting'), 'utf8'), `counted ${salt}\n`);
  t.deepEqual(await storeOf(target), await nixBuildClosure({ ref }));
  t.is(await buildCount(counter), 1);
});

test('flakes outside the allowed prefixes are PERMISSION_DENIED naming the prefixes', async (t) => {
  const node = await startTestPlugin(t, { sources: { policy: { allowFlakes: true, flakePrefixes: ['github:example-org/'] } } });
  const target = join(node.dir, 'target');
  const result = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-prefix', target, { flakeRef: 'path:/tmp/elsewhere#default' }));
  t.is(result.code, status.PERMISSION_DENIED);
  t.regex(result.details, /flakeRef "path:\/tmp\/elsewhere#default" is refused by this node's source policy.*github:example-org\/.*--flake-prefixes/);
  await assertNothingLeft(t, node, target);
});

test('flakes are refused by the default policy', async (t) => {
  const node = await startTestPlugin(t);
  const target = join(node.dir, 'target');
  const result = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-noflake', target, { flakeRef: 'path:/tmp/x#default' }));
  t.is(result.code, status.PERMISSION_DENIED);
  t.regex(result.details, /"flakeRef" key is refused/);
});

test('a flake without the attribute is INVALID_ARGUMENT quoting Nix', async (t) => {
  const node = await startTestPlugin(t, { sources: { policy: { allowFlakes: true, allowBuilds: true } } });
  const ref = `path:${await localFlake(t, await counterFile(t), uniqueSalt())}#missing`;
  const target = join(node.dir, 'target');
  const result = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-missing', target, { flakeRef: ref }));
  t.is(result.code, status.INVALID_ARGUMENT);
  t.regex(result.details, /does not provide attribute 'packages\.[^.]+\.missing'/);
  await assertNothingLeft(t, node, target);
});

test('a flakeRef walking out of an allowed prefix with dot segments is INVALID_ARGUMENT, and nothing is built', async (t) => {
  const root = await tempDir(t, 'nixmount-flake-prefix-');
  const counter = await counterFile(t);
  await localFlake(t, counter, uniqueSalt(), join(root, 'F/allowed/good'));
  await localFlake(t, counter, uniqueSalt(), join(root, 'F/evil'));
  const node = await startTestPlugin(t, {
    sources: { policy: { allowFlakes: true, allowBuilds: true, flakePrefixes: [`path:${root}/F/allowed/`] } },
  });
  const refs = [
    `path:${root}/F/allowed/../evil#default`,
    `path:${root}/F/allowed/%2e%2e/evil#default`,
    `path:${root}/F/allowed/%2E%2E/evil#default`,
    `path:${root}/F/allowed/good/../../evil#default`,
    `path:${root}/F/allowed/./../evil#default`,
    `path:${root}/F/allowed/good?dir=../../evil#default`,
  ];
  for (const [index, ref] of refs.entries()) {
    const target = join(node.dir, `target-${index}`);
    const result = await node.client.code('node', 'NodePublishVolume', publishRequest(`vol-dots-${index}`, target, { flakeRef: ref }));
    t.is(result.code, status.INVALID_ARGUMENT, ref);
    t.regex(result.details, /^flakeRef: .* (a "\.\." segment|a "\." segment)/, ref);
    await assertNothingLeft(t, node, target);
  }
  t.is(await buildCount(counter), 0, 'no builder ran');
});

test('an allowed prefix matches on a segment boundary, and an allowed flake below it still publishes', async (t) => {
  const root = await tempDir(t, 'nixmount-flake-prefix-');
  const counter = await counterFile(t);
  const salt = uniqueSalt();
  await localFlake(t, counter, salt, join(root, 'F/allowed/good'));
  await localFlake(t, counter, uniqueSalt(), join(root, 'F/allowed-not'));
  const node = await startTestPlugin(t, {
    sources: { policy: { allowFlakes: true, allowBuilds: true, flakePrefixes: [`path:${root}/F/allowed`] } },
  });
  const outside = join(node.dir, 'outside');
  const refused = await node.client.code('node', 'NodePublishVolume', publishRequest('vol-sibling', outside, { flakeRef: `path:${root}/F/allowed-not#default` }));
  t.is(refused.code, status.PERMISSION_DENIED);
  t.regex(refused.details, /starts with none of the allowed flake prefixes/);
  await assertNothingLeft(t, node, outside);

  const target = join(node.dir, 'target');
  await node.client.call('node', 'NodePublishVolume', publishRequest('vol-good', target, { flakeRef: `path:${root}//F/allowed/good#default` }));
  t.is(await readFile(join(target, 'var/result/greeting'), 'utf8'), `counted ${salt}\n`);
  t.is(await buildCount(counter), 1);
});
