import { mkdir, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { OrchestratorAdapter } from '../../core/orchestrator-adapter.js';
import { attempt, expectRefusal, expectReturn } from './errors-seen.js';

export type PathKind = 'target' | 'staging';

function method(adapter: OrchestratorAdapter, kind: PathKind): (path: string) => string {
  return kind === 'target' ? (path) => adapter.checkTargetPath(path) : (path) => adapter.checkStagingPath(path);
}

/** The path with its last `/` doubled: `/a/b//c`. */
function doubled(path: string): string {
  const at = path.lastIndexOf('/');
  return `${path.slice(0, at)}/${path.slice(at)}`;
}

/** Every spelling of `path` the orchestrator may send for it: exactly, with a trailing `/`, with `//`. */
export function canonicalForms(adapter: OrchestratorAdapter, kind: PathKind, paths: readonly string[]): string[] {
  const check = method(adapter, kind);
  return paths.flatMap((path) => [
    ...expectReturn(attempt(() => check(path)), path, `${kind} ${path}`),
    ...expectReturn(attempt(() => check(`${path}/`)), path, `${kind} ${path}/ (trailing slash)`),
    ...expectReturn(attempt(() => check(doubled(path))), path, `${kind} ${doubled(path)} (doubled slash)`),
  ]);
}

/** Spellings whose meaning depends on resolution, and paths no orchestrator sends: INVALID_ARGUMENT. */
export function refusals(adapter: OrchestratorAdapter, kind: PathKind, paths: readonly string[]): string[] {
  const check = method(adapter, kind);
  const invalid = ['InvalidArgument'];
  return paths.flatMap((path) => {
    const parent = dirname(path);
    const cases: Array<[string, string]> = [
      [`${path}/..`, 'ends in ".."'],
      [`${parent}/../${basename(parent)}/${basename(path)}`, 'has a ".." that leads back to the same path'],
      [`${parent}/./${basename(path)}`, 'has a "."'],
      [path.slice(1), 'is relative'],
      [`${path}\0x`, 'contains a NUL byte'],
      [`${parent}/${'x'.repeat(256)}`, 'has a component over 255 bytes'],
      ['/etc/nixmount-kit', 'lies outside the orchestrator\'s directories'],
    ];
    return cases.flatMap(([candidate, why]) => expectRefusal(attempt(() => check(candidate)), invalid, `${kind} ${JSON.stringify(candidate)} (${why})`));
  });
}

/**
 * A symlink planted by a workload must never be followed: the path itself as a link,
 * and its parent as a link (to a directory elsewhere), are refused. The checks run on
 * the real directories below the kit's root, put back afterwards.
 */
export async function symlinks(adapter: OrchestratorAdapter, kind: PathKind, paths: readonly string[], elsewhere: string): Promise<string[]> {
  const check = method(adapter, kind);
  const kinds = ['InvalidArgument', 'FailedPrecondition'];
  const problems: string[] = [];
  await mkdir(elsewhere, { recursive: true });
  for (const path of paths) {
    const parent = dirname(path);
    await mkdir(parent, { recursive: true });
    await rm(path, { recursive: true, force: true });
    await symlink(elsewhere, path);
    try {
      problems.push(...expectRefusal(attempt(() => check(path)), kinds, `${kind} ${path} when it is a symlink to ${elsewhere}`));
    } finally {
      await rm(path, { force: true });
    }
    const aside = `${parent}.kit-real`;
    await rename(parent, aside);
    await symlink(aside, parent);
    try {
      problems.push(...expectRefusal(attempt(() => check(path)), kinds, `${kind} ${path} when its parent ${parent} is a symlink`));
    } finally {
      await rm(parent, { force: true });
      await rename(aside, parent);
    }
  }
  return problems;
}

/** What nixmount protects (its state, the store) may not be the path's parent, nor be hidden below it. */
export function protectedDirs(build: (protectedDirs: readonly string[]) => OrchestratorAdapter, kind: PathKind, paths: readonly string[]): string[] {
  return paths.flatMap((path) => {
    const inside = attempt(() => method(build([dirname(path)]), kind)(path));
    const hiding = attempt(() => method(build([`${path}/kit-protected`]), kind)(path));
    return [
      ...expectRefusal(inside, ['InvalidArgument'], `${kind} ${path} with ${dirname(path)} protected (inside it)`),
      ...expectRefusal(hiding, ['InvalidArgument'], `${kind} ${path} with ${path}/kit-protected protected (a mount would hide it)`),
    ];
  });
}
