import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AdapterModule } from '../../sdk/adapter-module.js';
import { AdapterModuleError, checkAdapterModule } from './check-adapter-module.js';

/**
 * Where `specifier` is: a path (`./adapter.js`, `/opt/…`: from the working directory) or
 * a package name, found from the working directory first (a project's node_modules),
 * then from nixmount's own (a package installed beside it).
 */
function locate(specifier: string, cwd: string): string {
  if (specifier.startsWith('.') || isAbsolute(specifier)) return pathToFileURL(resolve(cwd, specifier)).href;
  try {
    return pathToFileURL(createRequire(join(cwd, 'package.json')).resolve(specifier)).href;
  } catch {
    return specifier;
  }
}

/**
 * Imports an adapter module (`nixmount serve --adapter-module`) and checks it against
 * the SDK: its `default` export, else its `adapter` export. Throws AdapterModuleError
 * naming the module and every problem.
 */
export async function loadAdapterModule(specifier: string, cwd = process.cwd()): Promise<AdapterModule> {
  const where = `the adapter module "${specifier}"`;
  let imported: Record<string, unknown>;
  try {
    imported = (await import(locate(specifier, cwd))) as Record<string, unknown>;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' ? 'was not found' : 'failed to load';
    throw new AdapterModuleError(where, [`it ${why}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`]);
  }
  const exported = imported.default ?? imported.adapter;
  if (exported === undefined) {
    throw new AdapterModuleError(where, [`it exports neither \`default\` nor \`adapter\` (it exports: ${Object.keys(imported).join(', ') || 'nothing'})`]);
  }
  return checkAdapterModule(exported, where);
}
