// Builds the adapter packages in sdk-examples/ as their users would: each is its own
// package depending on nixmount (`"nixmount": "file:../.."`), which npm installs as a
// link in its node_modules. The link is made here (what `npm install` there would do,
// without a network), then the package is compiled with its own tsconfig against the
// SDK's declaration files. Run after the main build and tsconfig.sdk.json.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createRequire } from 'node:module';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const examples = join(root, 'sdk-examples');

for (const name of existsSync(examples) ? readdirSync(examples) : []) {
  const dir = join(examples, name);
  if (!existsSync(join(dir, 'package.json'))) continue;
  const link = join(dir, 'node_modules', 'nixmount');
  mkdirSync(dirname(link), { recursive: true });
  if (!lstatSync(link, { throwIfNoEntry: false })) symlinkSync(relative(dirname(link), root), link);
  execFileSync(process.execPath, [tsc, '-p', dir], { stdio: 'inherit' });
  console.log(`sdk-examples: built ${name}`);
}
