import { randomBytes } from 'node:crypto';
import { chmod, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mountCapability } from './csi-client.js';
import { mountsBelow } from './mounts.js';
import { FIXTURES, nixEnv } from './nix.js';
import type { TestPlugin } from './plugin.js';
import { tempDir } from './temp.js';

export function uniqueSalt(): string {
  return `s${randomBytes(6).toString('hex')}`;
}

export interface CountedOptions {
  salt: string;
  /** File every build appends a line to. */
  counter: string;
  sleep?: number;
  fail?: boolean;
  /** Reference the closure fixture (built with this salt) so the closure has several paths. */
  withData?: boolean;
}

/** Expression text (a function taking {}) for test/fixtures/counted.nix. */
export function countedExpression(options: CountedOptions): string {
  const data = options.withData ? `data = import ${FIXTURES}closure.nix { salt = "${options.salt}"; };` : '';
  return `{ }:
import ${FIXTURES}counted.nix {
  salt = "${options.salt}";
  counter = "${options.counter}";
  sleep = ${options.sleep ?? 0};
  fail = ${options.fail ? 'true' : 'false'};
  ${data}
}`;
}

/** A file builders can append to (they may run as a build user, not root). */
export async function counterFile(t: ExecutionContext): Promise<string> {
  const dir = await tempDir(t, 'nixmount-count-');
  await chmod(dir, 0o1777);
  return join(dir, 'count');
}

/** How many builds the counter file records (0 when it does not exist). */
export async function buildCount(counter: string): Promise<number> {
  const text = await readFile(counter, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line === 'built').length;
}

export function publishRequest(volumeId: string, target: string, context: Record<string, string>) {
  return { volume_id: volumeId, target_path: target, volume_capability: mountCapability(), readonly: true, volume_context: context };
}

/** The closure `nix build` gives for an installable (`--expr` text or a flake ref), sorted. */
export async function nixBuildClosure(installable: { expr: string } | { ref: string }): Promise<string[]> {
  const args = 'expr' in installable ? ['--impure', '--expr', installable.expr] : [installable.ref];
  const { stdout } = await execa('nix', ['build', '--no-link', '--json', ...args], { env: nixEnv });
  const out = (JSON.parse(stdout) as Array<{ outputs: Record<string, string> }>)[0]!.outputs.out!;
  return (await execa('nix-store', ['-qR', out], { env: nixEnv })).stdout.trim().split('\n').sort();
}

/** Store paths visible in a published volume (its /nix/store). */
export async function storeOf(target: string): Promise<string[]> {
  return (await readdir(join(target, 'store'))).filter((name) => !name.startsWith('.')).map((name) => `/nix/store/${name}`).sort();
}

async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

/**
 * After a failed publish nothing may remain: no view (not even a half-built one),
 * no record, no overlay, no mount, no target, and no GC root in `gcRootDir`.
 */
export async function assertNothingLeft(t: ExecutionContext, node: TestPlugin, target: string, gcRootDir?: string): Promise<void> {
  t.deepEqual(await entries(join(node.stateDir, 'views')), [], 'no view');
  t.deepEqual(await entries(join(node.stateDir, 'volumes')), [], 'no record');
  t.deepEqual(await entries(join(node.stateDir, 'overlays')), [], 'no overlay');
  t.deepEqual(await mountsBelow(node.dir), [], 'no mount');
  t.is(await stat(target).then(() => 'exists', () => 'absent'), 'absent', 'no target');
  if (gcRootDir) t.deepEqual(await entries(gcRootDir), [], 'no GC root');
}
