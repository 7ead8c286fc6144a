// Tells scripts/setup.sh which of its npm steps are already done, so a second
// `npm run test:unit` does not reinstall or rebuild what has not changed.
//   node scripts/setup-done.mjs install      exit 0: node_modules holds exactly package-lock.json's packages
//   node scripts/setup-done.mjs build        exit 0: dist was built from the sources as they are now
//   node scripts/setup-done.mjs stamp-build  prints the sources' hash (setup.sh stores it once the build succeeded)
// Any other exit status (a crash included) means "do it", which is always safe.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

const root = process.env.NIXMOUNT_SETUP_ROOT ?? resolve(dirname(new URL(import.meta.url).pathname), '..');
const BUILD_STAMP = 'dist/.built-from.sha256';

/**
 * npm records what it installed in node_modules/.package-lock.json; comparing it
 * with the lock by content holds where file times do not (a fresh clone, a
 * checkout of another branch, a node_modules shared between work trees).
 * Optional packages for other platforms are in the lock but never installed.
 */
function installed() {
  // A fresh clone has no node_modules yet: nothing is installed.
  if (!existsSync(join(root, 'node_modules/.package-lock.json'))) return false;
  const wanted = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages ?? {};
  const have = JSON.parse(readFileSync(join(root, 'node_modules/.package-lock.json'), 'utf8')).packages ?? {};
  for (const [path, entry] of Object.entries(wanted)) {
    if (path === '') continue;
    const got = have[path];
    if (!got) {
      if (entry.optional) continue;
      return false;
    }
    if (got.version !== entry.version || got.integrity !== entry.integrity) return false;
  }
  return Object.keys(have).every((path) => path in wanted);
}

/** What the build reads: every file but generated, built and installed ones. */
const BUILD_INPUTS = ['src', 'support', 'test', 'bench', 'demo', 'proto', 'sdk-examples', 'tsconfig.json', 'tsconfig.sdk.json', 'package.json', 'package-lock.json', 'scripts/gen-proto.sh', 'scripts/build-sdk-examples.mjs'];
const SKIPPED = new Set(['src/gen', 'node_modules', 'dist']);

function walk(path, into) {
  const rel = relative(root, path);
  if (SKIPPED.has(rel) || SKIPPED.has(path.split('/').at(-1))) return;
  let entries;
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch (error) {
    if (error.code === 'ENOTDIR') return void into.push(rel);
    if (error.code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) walk(join(path, entry.name), into);
}

/** One hash over every input's path and content: an edit, an added or a removed file changes it. */
function sourcesHash() {
  const files = [];
  for (const input of BUILD_INPUTS) walk(join(root, input), files);
  const hash = createHash('sha256');
  for (const file of files.sort()) hash.update(`${file}\0`).update(readFileSync(join(root, file))).update('\0');
  return hash.digest('hex');
}

function built() {
  const stamp = join(root, BUILD_STAMP);
  return existsSync(stamp) && existsSync(join(root, 'dist/src/cli.js')) && readFileSync(stamp, 'utf8').trim() === sourcesHash();
}

const step = process.argv[2];
if (step === 'install') process.exit(installed() ? 0 : 1);
if (step === 'build') process.exit(built() ? 0 : 1);
if (step === 'stamp-build') console.log(sourcesHash());
else {
  console.error('usage: node scripts/setup-done.mjs install|build|stamp-build');
  process.exit(2);
}
