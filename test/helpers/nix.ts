import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { OFFLINE_NIX_CONFIG, offlineNixEnv } from '../../support/nix-env.js';

/** Nix as the tests use it: no network caches, flakes on, single-user root. */
export const TEST_NIX_CONFIG = OFFLINE_NIX_CONFIG;
export const nixEnv = offlineNixEnv;

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
/** The fixtures' directory as a NIX_PATH entry (no trailing slash): restricted evaluation may read below it. */
export const FIXTURES_DIR = FIXTURES.replace(/\/$/, '');

export interface Fixture {
  root: string;
  closure: string[];
}

const built = new Map<string, Promise<Fixture>>();

/** Builds test/fixtures/closure.nix (offline) with `salt`; once per salt per process. */
export function buildFixture(salt = ''): Promise<Fixture> {
  let fixture = built.get(salt);
  if (!fixture) {
    fixture = (async () => {
      const { stdout } = await execa('nix-build', [`${FIXTURES}closure.nix`, '--no-out-link', '--argstr', 'salt', salt], { env: nixEnv });
      const root = stdout.trim().split('\n').pop()!;
      const closure = (await execa('nix-store', ['-qR', root], { env: nixEnv })).stdout.trim().split('\n').sort();
      return { root, closure };
    })();
    built.set(salt, fixture);
  }
  return fixture;
}

/** Copies store paths (with their closure) into a chroot store at `root` — a second simulated node. */
export async function copyToChrootStore(root: string, paths: string[]): Promise<void> {
  await execa('nix', ['copy', '--no-check-sigs', '--to', `local?root=${root}`, ...paths], { env: nixEnv });
}
