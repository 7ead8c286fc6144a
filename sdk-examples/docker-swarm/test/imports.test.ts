import test from 'ava';
import { readFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { PACKAGE_DIR, sourceFiles } from './package-files.js';

// The point of this package: an adapter built on the SDK alone. Its code may import
// nixmount only through `nixmount/sdk` (its tests also through the test kit), Node's
// built-ins, and its own files, never a deep path into nixmount.
const ALLOWED = {
  src: ['nixmount/sdk'],
  test: ['nixmount/sdk', 'nixmount/sdk/testkit', 'nixmount/sdk/testkit/ava', 'ava'],
};

for (const [dir, allowed] of Object.entries(ALLOWED)) {
  test(`${dir}/ imports nothing of nixmount but ${allowed.filter((name) => name.startsWith('nixmount')).join(', ')}`, async (t) => {
    const problems: string[] = [];
    const files = await sourceFiles(dir);
    t.true(files.length > 0);
    for (const file of files) {
      const text = await readFile(join(PACKAGE_DIR, file), 'utf8');
      for (const match of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const spec = (match[1] ?? match[2])!;
        if (spec.startsWith('.')) {
          const target = normalize(join(dirname(file), spec));
          if (target.startsWith('..')) problems.push(`${file}: ${spec} leaves the package`);
        } else if (!spec.startsWith('node:') && !allowed.includes(spec)) {
          problems.push(`${file}: imports ${spec}`);
        }
      }
    }
    t.deepEqual(problems, []);
  });
}

test('the package depends on nixmount only as a peer (and a link for its own tests)', async (t) => {
  const manifest = JSON.parse(await readFile(join(PACKAGE_DIR, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  t.deepEqual(manifest.dependencies ?? {}, {});
  t.deepEqual(Object.keys(manifest.peerDependencies ?? {}), ['nixmount']);
});
