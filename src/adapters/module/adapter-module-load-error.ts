import { fileURLToPath } from 'node:url';

/**
 * An adapter module that could not be imported at all: it is absent, or something it
 * imports is. Kept apart from AdapterModuleError ("does not fit the SDK"), since a
 * missing dependency says nothing about the module's fit and is fixed by installing it.
 */
export class AdapterModuleLoadError extends Error {
  constructor(
    readonly where: string,
    readonly reason: string,
  ) {
    super(`${where} cannot be loaded: ${reason}`);
    this.name = 'AdapterModuleLoadError';
  }
}

const INSTALL_NIXMOUNT =
  'install nixmount in that package (npm install nixmount, or npm install the tarball `npm pack` makes in a nixmount checkout; docs/adapters.md, "Its own package")';

/** Node's "Cannot find package 'x' imported from /y" (and "Cannot find module …"): what is missing, and who asked. */
function missingImport(message: string): { missing: string; importer: string } | undefined {
  const match = /^Cannot find (?:package|module) '([^']+)' imported from (.+)$/.exec(message.split('\n')[0]!);
  if (!match) return undefined;
  const importer = match[2]!.startsWith('file:') ? fileURLToPath(match[2]!) : match[2]!;
  return { missing: match[1]!, importer };
}

/** The package a bare specifier names: `nixmount` for `nixmount/sdk`, `@a/b` for `@a/b/c`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * Why an import of the module failed, in the words that lead to the fix. `loader` is the
 * file that imported the module (nixmount's own): a failure to find something it asked
 * for means the module itself is absent; a failure in the module's own imports means a
 * dependency of its package is not installed there.
 */
export function loadFailure(where: string, error: unknown, loader: string): AdapterModuleLoadError {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
    const found = missingImport(message);
    if (found && found.importer !== loader) {
      if (found.missing.startsWith('/') || found.missing.startsWith('.')) {
        return new AdapterModuleLoadError(where, `cannot resolve '${found.missing}' from ${found.importer}: that file of the package is missing (is the package built?)`);
      }
      const name = packageOf(found.missing);
      return new AdapterModuleLoadError(where, `cannot resolve '${name}' from ${found.importer}: ${name === 'nixmount' ? INSTALL_NIXMOUNT : `install ${name} in that package`}`);
    }
    return new AdapterModuleLoadError(where, `it was not found: ${message.split('\n')[0]}`);
  }
  return new AdapterModuleLoadError(where, `it failed to load: ${message.split('\n')[0]}`);
}
