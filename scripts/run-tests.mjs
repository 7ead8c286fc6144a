// Runs the static checks and the ava suite, passes their output through, and ends
// with the line CI reads: "N passed, N failed". Exits non-zero on any failure.
import { spawn } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { UNIT_TESTS } from './test-suites.mjs';

// --unit: only the tests that need neither root nor Nix (see test-suites.mjs).
const unit = process.argv.includes('--unit');

// Views are hardlinks into /nix/store, so test scratch space must be on the store's
// filesystem; where /tmp is elsewhere (a tmpfs), tests work under /nix/var instead.
if (!unit) {
  mkdirSync('/nix/var', { recursive: true });
  if (statSync(process.env.TMPDIR ?? '/tmp').dev !== statSync('/nix/var').dev) {
    process.env.TMPDIR = '/nix/var/nixmount-test-tmp';
    mkdirSync(process.env.TMPDIR, { recursive: true });
    console.log(`# /tmp is not on the Nix store's filesystem; tests use ${process.env.TMPDIR}`);
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
await check('import cycles', 'npx', ['--no-install', 'madge', '--circular', '--no-spinner', '--extensions', 'js', 'dist/src']);

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
