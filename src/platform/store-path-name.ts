/**
 * The package name and version a store path's name carries, split the way Nix's
 * `builtins.parseDrvName` splits them: the version starts after the first `-` that is
 * followed by something other than an ASCII letter. `hello-2.12.1` is hello 2.12.1,
 * `glibc-2.39-52-bin` is glibc 2.39-52-bin (an output's suffix stays in the version,
 * as Nix keeps it), `python3.12-requests-2.32.3` is python3.12-requests 2.32.3, and
 * `source` has no version. A derivation's `.drv` is not part of its version.
 */
export interface StorePathName {
  name: string;
  version?: string;
  /** The path is a derivation (`.drv`), not something built from one. */
  derivation: boolean;
}

/** Store paths are `<store dir>/<32 base-32 characters>-<name>`. */
const HASH_PART = /^[0-9a-df-np-sv-z]{32}-/;

export function storePathName(storePath: string): StorePathName {
  const base = storePath.slice(storePath.lastIndexOf('/') + 1).replace(HASH_PART, '');
  const derivation = base.endsWith('.drv') && base.length > '.drv'.length;
  const full = derivation ? base.slice(0, -'.drv'.length) : base;
  // From the second character: a name of only a version (`-1.0`) keeps it whole, as a component needs a name.
  for (let i = 1; i + 1 < full.length; i++) {
    if (full[i] === '-' && !/[A-Za-z]/.test(full[i + 1]!)) return { name: full.slice(0, i), version: full.slice(i + 1), derivation };
  }
  return { name: full, derivation };
}
