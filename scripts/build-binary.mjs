// `npm run binary`: one self-contained `nixmount` executable (dist/binary/nixmount) for nodes
// without containers or Node: esbuild bundles the built CLI into one CommonJS file, Node's
// single executable application support (node >= 20.12: --experimental-sea-config, assets)
// turns it into a blob, and postject injects that into a copy of this machine's node.
// It needs on the node only what nixmount itself runs: nix (nix-bin), mount/umount, setpriv.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const out = 'dist/binary';
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const started = Date.now();

const result = await build({
  entryPoints: ['scripts/binary/sea-entry.mjs'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: join(out, 'nixmount.cjs'),
  define: { 'import.meta.url': 'globalThis.__nixmountMetaUrl' },
  // The shebang of dist/src/cli.js would land mid-file; SEA scripts need none.
  banner: { js: '"use strict";' },
  logLevel: 'warning',
  legalComments: 'none',
});
if (result.errors.length > 0) process.exit(1);
// Strip a shebang line esbuild kept from cli.js (a syntax error anywhere but the first line).
const bundle = join(out, 'nixmount.cjs');
writeFileSync(bundle, readFileSync(bundle, 'utf8').replace(/^#!.*$/m, ''));

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
writeFileSync(join(out, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version }));
copyFileSync('proto/csi.proto', join(out, 'csi.proto'));
writeFileSync(
  join(out, 'sea-config.json'),
  JSON.stringify({
    main: bundle,
    output: join(out, 'sea-prep.blob'),
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    assets: { 'csi.proto': join(out, 'csi.proto'), 'package.json': join(out, 'package.json') },
  }),
);
execFileSync(process.execPath, ['--experimental-sea-config', join(out, 'sea-config.json')], { stdio: 'inherit' });

const binary = join(out, 'nixmount');
copyFileSync(process.execPath, binary);
chmodSync(binary, 0o755);
// postject (LIEF) warns about ELF note sections it cannot name; harmless, so shown only on failure.
const injected = spawnSync('npx', ['--no-install', 'postject', binary, 'NODE_SEA_BLOB', join(out, 'sea-prep.blob'), '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], {
  encoding: 'utf8',
});
if (injected.status !== 0) {
  process.stderr.write(injected.stdout + injected.stderr);
  process.exit(1);
}
// The binary must run: its own --help, without this repository's files around it.
const help = spawnSync(resolve(binary), ['--help'], { encoding: 'utf8', cwd: '/' });
if (!/usage: nixmount <command>/.test(help.stdout)) {
  process.stderr.write(`binary: ${binary} --help did not print the usage:\n${help.stdout}${help.stderr}`);
  process.exit(1);
}
const mb = (file) => (statSync(file).size / 1e6).toFixed(1);
console.log(`binary: ${binary} (${mb(binary)} MB; bundle ${mb(bundle)} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s, node ${process.version}`);
