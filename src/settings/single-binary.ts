/**
 * Whether this nixmount is the single-file binary (`npm run binary`): its entry
 * (scripts/binary/sea-setup.mjs) says so before the CLI loads. Node's single executable
 * applications have no dynamic import of files from disk, and the binary carries no
 * `nixmount/sdk` package for a module to import, so it cannot load adapter modules.
 */
export function isSingleBinary(): boolean {
  return (globalThis as { __nixmountSingleBinary?: unknown }).__nixmountSingleBinary === true;
}

export const NO_ADAPTER_MODULES =
  'the single nixmount binary cannot load adapter modules (they import nixmount/sdk, which it does not carry, and it cannot import files); ' +
  'run nixmount from its npm package or its image for --adapter-module (docs/adapters.md)';
