import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The package's own directory (tests run from dist/test/). */
export const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));
/** The built adapter, as `nixmount serve --adapter-module` is given it. */
export const ADAPTER = join(PACKAGE_DIR, 'dist/src/adapter.js');

/** Nix as a node without network runs it in these tests: no cache, flakes on, no sandbox. */
export const OFFLINE_NIX = { NIX_CONFIG: ['experimental-features = nix-command flakes', 'substituters =', 'sandbox = false'].join('\n') };

let built: Promise<string> | undefined;

/** Builds test/fixtures/closure.nix once; its store path. */
export function exampleClosure(): Promise<string> {
  built ??= promisify(execFile)('nix-build', [join(PACKAGE_DIR, 'test/fixtures/closure.nix'), '--no-out-link'], { env: { ...process.env, ...OFFLINE_NIX } }).then(
    ({ stdout }) => stdout.trim().split('\n').pop()!,
  );
  return built;
}

/** Every .ts file below `dir` (relative to the package). */
export async function sourceFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(join(PACKAGE_DIR, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts')) found.push(path);
  }
  return found;
}
