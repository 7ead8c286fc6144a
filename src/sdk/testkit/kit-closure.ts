import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * The kit's own closure expression, shipped in the package (`nixmount/sdk/testkit/closure.nix`):
 * two store paths, one referring to the other, built offline from the node's /bin/sh.
 * From dist/src/sdk/testkit/ (where this module runs) to src/sdk/testkit/ in the package.
 */
export const KIT_CLOSURE_EXPRESSION = fileURLToPath(new URL('../../../../src/sdk/testkit/closure.nix', import.meta.url));

/**
 * Builds KIT_CLOSURE_EXPRESSION with the node's `nix-build` and answers its store path,
 * what `runReplay`'s `closure` takes. `env` is added to this process's environment for
 * nix-build: the expression uses the host's /bin/sh, so Nix must run without its sandbox
 * (`NIX_CONFIG: 'sandbox = false'`, and `substituters =` on a node without network).
 */
export async function buildKitClosure(options: { env?: Readonly<Record<string, string>> } = {}): Promise<string> {
  const { stdout } = await promisify(execFile)('nix-build', [KIT_CLOSURE_EXPRESSION, '--no-out-link'], { env: { ...process.env, ...options.env } });
  const path = stdout.trim().split('\n').pop();
  if (!path?.startsWith('/')) throw new Error(`nix-build ${KIT_CLOSURE_EXPRESSION} printed no store path: ${JSON.stringify(stdout)}`);
  return path;
}
