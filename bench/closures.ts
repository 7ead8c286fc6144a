import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './commands.js';

const FIXTURES = fileURLToPath(new URL('../../bench/fixtures/', import.meta.url));

export interface Closure {
  root: string;
  paths: string[];
  files: number;
  bytes: number;
}

async function treeSize(path: string): Promise<{ files: number; bytes: number }> {
  const stats = await lstat(path);
  if (!stats.isDirectory()) return { files: 1, bytes: stats.size };
  let files = 0;
  let bytes = 0;
  for (const name of await readdir(path)) {
    const inner = await treeSize(join(path, name));
    files += inner.files;
    bytes += inner.bytes;
  }
  return { files, bytes };
}

async function describe(root: string): Promise<Closure> {
  const paths = (await run('nix-store', ['--query', '--requisites', root])).trim().split('\n').sort();
  let files = 0;
  let bytes = 0;
  for (const path of paths) {
    const size = await treeSize(path);
    files += size.files;
    bytes += size.bytes;
  }
  return { root, paths, files, bytes };
}

async function nixBuild(file: string, args: string[] = []): Promise<string[]> {
  const out = await run('nix-build', [join(FIXTURES, file), '--no-out-link', ...args]);
  return out.trim().split('\n');
}

/** The big closure (Debian's Python, Perl, Node, libraries, zoneinfo); built once, then cached by Nix. */
export async function buildBigClosure(): Promise<Closure> {
  const [root] = await nixBuild('big-closure.nix');
  return describe(root!);
}

/** `count` small closures, distinct from each other. */
export async function buildSmallClosures(count: number): Promise<Closure[]> {
  const closures: Closure[] = [];
  for (let i = 0; i < count; i++) {
    const [root] = await nixBuild('small-closure.nix', ['--argstr', 'salt', `s${i}`]);
    closures.push(await describe(root!));
  }
  return closures;
}

/** A generated closure of about `files` files over `paths` store paths (plus a root), for the size curve. */
export async function buildSizedClosure(files: number, paths: number): Promise<Closure> {
  const [root] = await nixBuild('sized-closure.nix', ['--argstr', 'files', String(files), '--argstr', 'paths', String(paths)]);
  return describe(root!);
}

/** `count` tiny distinct closures (one store path each): the views of the scale scenario. */
export async function buildScaleRoots(count: number): Promise<string[]> {
  return nixBuild('scale-closures.nix', ['--argstr', 'count', String(count)]);
}
