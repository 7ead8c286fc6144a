import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AdapterModule } from '../../sdk/adapter-module.js';
import { loadFailure } from './adapter-module-load-error.js';
import { AdapterModuleError, checkAdapterModule } from './check-adapter-module.js';

export { AdapterModuleLoadError } from './adapter-module-load-error.js';

/** A package's ESM entry point: `exports` (".", then its import or default condition), else `main`, else index.js. */
function entryPoint(manifestPath: string): string {
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: unknown; main?: string };
  let target: unknown = manifest.exports;
  if (typeof target === 'object' && target !== null && '.' in target) target = (target as Record<string, unknown>)['.'];
  while (typeof target === 'object' && target !== null) {
    const conditions = target as Record<string, unknown>;
    target = conditions.import ?? conditions.node ?? conditions.default;
  }
  return resolve(dirname(manifestPath), typeof target === 'string' ? target : (manifest.main ?? 'index.js'));
}

/**
 * Where `specifier` is: a path (`./adapter.js`, `/opt/…`: from the working directory) or
 * a package name, looked up in the node_modules of the working directory and its
 * parents (a project that installed it), else left to Node from nixmount's own place
 * (a package installed beside nixmount).
 */
function locate(specifier: string, cwd: string): string {
  if (specifier.startsWith('.') || isAbsolute(specifier)) return pathToFileURL(resolve(cwd, specifier)).href;
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const manifest = join(dir, 'node_modules', specifier, 'package.json');
    if (existsSync(manifest)) return pathToFileURL(entryPoint(manifest)).href;
    if (dirname(dir) === dir) return specifier;
  }
}

/**
 * Imports an adapter module (`nixmount serve --adapter-module`) and checks it against
 * the SDK: its `default` export, else its `adapter` export. Throws AdapterModuleLoadError
 * when it cannot be imported (absent, or a dependency of it is), else AdapterModuleError
 * naming the module and every problem.
 */
export async function loadAdapterModule(specifier: string, cwd = process.cwd()): Promise<AdapterModule> {
  const where = `the adapter module "${specifier}"`;
  let imported: Record<string, unknown>;
  try {
    imported = (await import(locate(specifier, cwd))) as Record<string, unknown>;
  } catch (error) {
    throw loadFailure(where, error, fileURLToPath(import.meta.url));
  }
  const exported = imported.default ?? imported.adapter;
  if (exported === undefined) {
    throw new AdapterModuleError(where, [`it exports neither \`default\` nor \`adapter\` (it exports: ${Object.keys(imported).join(', ') || 'nothing'})`]);
  }
  return checkAdapterModule(exported, where);
}
