// Runs the static checks and the ava suite, passes their output through, and ends
// with the line CI reads: "N passed, N failed". Exits non-zero on any failure.
import { spawn } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { UNIT_TESTS } from './test-suites.mjs';

// --unit: only the tests that need neither root nor Nix (see test-suites.mjs).
const unit = process.argv.includes('--unit');

// Views are hardlinks into /nix/store, so test scratch space must be on the store's
// filesystem. Where /tmp is elsewhere (a tmpfs), the first candidate on the store's
// filesystem is used — never one below /nix, where nixmount refuses to mount.
if (!unit) {
  mkdirSync('/nix/var', { recursive: true });
  const storeDevice = statSync('/nix/var').dev;
  const current = process.env.TMPDIR ?? '/tmp';
  if (statSync(current).dev !== storeDevice) {
    const candidate = ['/var/tmp', '/root', '/srv', '/opt'].find((dir) => {
      try {
        return statSync(dir).dev === storeDevice;
      } catch {
        return false;
      }
    });
    if (!candidate) {
      console.log(`not ok - no directory outside /nix on the Nix store's filesystem for test scratch space (${current} is elsewhere)`);
      process.exit(1);
    }
    process.env.TMPDIR = `${candidate}/nixmount-test-tmp`;
    mkdirSync(process.env.TMPDIR, { recursive: true });
    console.log(`# ${current} is not on the Nix store's filesystem; tests use ${process.env.TMPDIR}`);
  }
}

let passed = 0;
let failed = 0;

function run(command, args, onLine) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      console.log(line);
      onLine?.(line);
    });
    child.on('close', (code) => lines.close() ?? resolve(code ?? 1));
  });
}

async function check(name, command, args) {
  const code = await run(command, args);
  if (code === 0) passed++;
  else {
    failed++;
    console.log(`not ok - ${name} (exit ${code})`);
  }
}

await check('layering', 'node', ['scripts/check-layering.mjs']);
// On the TypeScript sources, not dist/: an import of types only is gone from the
// built JavaScript, and a circle through one (a table that loads its commands, the
// commands importing their types from the table) is still a circle in the design.
// madge follows static imports, `import type` and literal dynamic `import()`s.
await check('import cycles', 'npx', ['--no-install', 'madge', '--circular', '--no-spinner', '--extensions', 'ts', '--ts-config', 'tsconfig.json', 'src']);

const extra = unit ? UNIT_TESTS : process.argv.slice(2);
let tapPassed = 0;
let tapFailed = 0;
const avaCode = await run('npx', ['--no-install', 'ava', '--tap', ...extra], (line) => {
  if (/^ok \d+/.test(line) && !/# (SKIP|TODO)/.test(line)) tapPassed++;
  else if (/^not ok \d+/.test(line) && !/# TODO/.test(line)) tapFailed++;
});
passed += tapPassed;
failed += tapFailed;
if (avaCode !== 0 && tapFailed === 0) {
  failed++;
  console.log(`not ok - ava exited with ${avaCode}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
