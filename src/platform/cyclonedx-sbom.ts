import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ProvenanceEntry } from './closure-provenance.js';
import { nixHashToHex, type NixHashAlgorithm } from './nix-hash.js';
import { storePathName } from './store-path-name.js';

/** Where a volume's workload finds its closure as a CycloneDX SBOM, below the volume's /nix, beside closure.json. */
export const SBOM_FILE = 'var/nixmount/sbom.cdx.json';

/** The volume's own component: what the requested roots make together. Never a store path (those start with `/`). */
export const VOLUME_REF = 'nixmount:volume';

// CycloneDX's names of the algorithms (its hash-alg enumeration).
const CDX_ALGORITHM: Record<NixHashAlgorithm, string> = { md5: 'MD5', sha1: 'SHA-1', sha256: 'SHA-256', sha512: 'SHA-512' };

interface Property {
  name: string;
  value: string;
}

interface Component {
  type: 'application' | 'library' | 'file';
  'bom-ref': string;
  name: string;
  version?: string;
  hashes?: { alg: string; content: string }[];
  properties?: Property[];
}

/**
 * A CycloneDX 1.6 JSON BOM of a volume's closure: one component per store path
 * (bom-ref the path; name and version from its name, see storePathName; the NAR's
 * hash; size, deriver, signatures and origin as `nixmount:` properties), a dependency
 * entry per path naming its references, and the volume itself as the metadata
 * component depending on the roots. Deterministic: everything sorted, no timestamp or
 * serial number (both optional in the spec), no plugin version, so the same closure
 * and roots always give the same bytes and a view shared by volumes stays one file.
 */
export function cyclonedxSbom(roots: readonly string[], entries: readonly ProvenanceEntry[]): object {
  const sorted = [...entries].sort((a, b) => compare(a.path, b.path));
  const known = new Set(sorted.map((entry) => entry.path));
  const topLevel = [...new Set(roots)].filter((root) => known.has(root)).sort(compare);
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    version: 1,
    metadata: {
      tools: { components: [{ type: 'application', name: 'nixmount' }] },
      component: volumeComponent(topLevel),
    },
    components: sorted.map(component),
    dependencies: [
      { ref: VOLUME_REF, dependsOn: topLevel },
      // A path referring to itself (most binaries do) is no dependency of its own.
      ...sorted.map((entry) => ({ ref: entry.path, dependsOn: [...new Set(entry.references)].filter((ref) => ref !== entry.path && known.has(ref)).sort(compare) })),
    ],
  };
}

/** The volume: named after its root (or its roots, joined by `+`), with the root store paths as properties. */
function volumeComponent(roots: readonly string[]): Component {
  const names = roots.map(storePathName);
  const single = names.length === 1 ? names[0] : undefined;
  return {
    type: 'application',
    'bom-ref': VOLUME_REF,
    name: names.length === 0 ? 'nixmount-volume' : names.map((name) => name.name).join('+'),
    ...(single?.version !== undefined ? { version: single.version } : {}),
    ...(roots.length > 0 ? { properties: roots.map((root) => ({ name: 'nixmount:root', value: root })) } : {}),
  };
}

function component(entry: ProvenanceEntry): Component {
  const { name, version, derivation } = storePathName(entry.path);
  const digest = nixHashToHex(entry.narHash);
  const properties: Property[] = [
    { name: 'nixmount:narHash', value: entry.narHash },
    { name: 'nixmount:narSize', value: String(entry.narSize) },
    ...(entry.deriver ? [{ name: 'nixmount:deriver', value: entry.deriver }] : []),
    ...(typeof entry.ca === 'string' ? [{ name: 'nixmount:ca', value: entry.ca }] : []),
    ...[...entry.signatures].sort(compare).map((value) => ({ name: 'nixmount:signature', value })),
    { name: 'nixmount:origin', value: entry.origin },
    ...(entry.substituter !== undefined ? [{ name: 'nixmount:substituter', value: entry.substituter }] : []),
  ];
  return {
    type: derivation ? 'file' : 'library',
    'bom-ref': entry.path,
    name,
    ...(version !== undefined ? { version } : {}),
    // A hash Nix wrote in a form not known here stays in nixmount:narHash only.
    ...(digest ? { hashes: [{ alg: CDX_ALGORITHM[digest.algorithm], content: digest.hex }] } : {}),
    properties,
  };
}

/** By UTF-16 code units, not the locale: the same on every node. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Writes `<rootDir>/nix/var/nixmount/sbom.cdx.json` beside closure.json, the same
 * way: readable by anyone, into a view being built aside (renamed into place whole).
 */
export async function writeSbomFile(rootDir: string, roots: readonly string[], entries: readonly ProvenanceEntry[]): Promise<void> {
  const file = join(rootDir, 'nix', SBOM_FILE);
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  await writeFile(file, `${JSON.stringify(cyclonedxSbom(roots, entries), null, 2)}\n`, { mode: 0o444, flag: 'wx' });
}
