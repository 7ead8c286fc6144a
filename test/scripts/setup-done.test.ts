import test from 'ava';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { tempDir } from '../helpers/temp.js';

// scripts/setup.sh skips `npm ci` and the build when scripts/setup-done.mjs says they
// are done; a wrong "done" would run the tests against old code, so each way it can
// go stale is checked here on a tree of its own.
const SCRIPT = fileURLToPath(new URL('../../../scripts/setup-done.mjs', import.meta.url));

async function done(root: string, step: 'install' | 'build'): Promise<boolean> {
  const result = await execa('node', [SCRIPT, step], { env: { NIXMOUNT_SETUP_ROOT: root }, reject: false });
  return result.exitCode === 0;
}

async function put(root: string, path: string, text: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), text);
}

const lock = (packages: Record<string, object>) => JSON.stringify({ lockfileVersion: 3, packages: { '': { name: 'x' }, ...packages } });
const execaEntry = { version: '9.5.0', integrity: 'sha512-a' };

test('install is done only when node_modules holds exactly the lock\'s packages', async (t) => {
  const root = await tempDir(t);
  await put(root, 'package-lock.json', lock({ 'node_modules/execa': execaEntry, 'node_modules/@esbuild/aix-ppc64': { version: '0.25.12', optional: true } }));
  t.false(await done(root, 'install'), 'no node_modules yet');
  // npm's own record of what it installed; the other platform's optional package is not there.
  await put(root, 'node_modules/.package-lock.json', lock({ 'node_modules/execa': execaEntry }));
  t.true(await done(root, 'install'));
  await put(root, 'package-lock.json', lock({ 'node_modules/execa': { version: '9.6.0', integrity: 'sha512-b' } }));
  t.false(await done(root, 'install'), 'the lock moved to another version');
  await put(root, 'package-lock.json', lock({}));
  t.false(await done(root, 'install'), 'node_modules has a package the lock dropped');
});

test('the build is done only while no source changed since it was stamped', async (t) => {
  const root = await tempDir(t);
  await put(root, 'src/a.ts', 'export const a = 1;\n');
  await put(root, 'test/a.test.ts', '');
  await put(root, 'dist/src/cli.js', '');
  t.false(await done(root, 'build'), 'never stamped');
  const stamp = async () => put(root, 'dist/.built-from.sha256', (await execa('node', [SCRIPT, 'stamp-build'], { env: { NIXMOUNT_SETUP_ROOT: root } })).stdout);
  await stamp();
  t.true(await done(root, 'build'));
  // What the build itself writes does not count.
  await put(root, 'src/gen/csi.ts', 'generated');
  await put(root, 'sdk-examples/x/dist/a.js', 'built');
  t.true(await done(root, 'build'));
  await put(root, 'src/a.ts', 'export const a = 2;\n');
  t.false(await done(root, 'build'), 'a source edited');
  await stamp();
  await put(root, 'sdk-examples/x/src/b.ts', '');
  t.false(await done(root, 'build'), 'a source added');
  await stamp();
  await rm(join(root, 'test/a.test.ts'));
  t.false(await done(root, 'build'), 'a test removed: its old build must not run');
  await stamp();
  await rm(join(root, 'dist/src/cli.js'));
  t.false(await done(root, 'build'), 'dist emptied behind the stamp');
});
