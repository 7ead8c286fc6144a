import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PathInfo } from './nix-registrations.js';

/** Where a volume's workload finds what its closure is, below the volume's /nix. */
export const CLOSURE_FILE = 'var/nixmount/closure.json';

/** How many substitutions are remembered (a path and a URL each). */
const MAX_FETCHED = 20_000;

/**
 * Which cache each path this process substituted came from, as Nix's realise output
 * says it ("copying path '…' from 'https://…'"). In memory: a path substituted before a
 * restart is then only known to have been in the node store. Bounded, oldest first.
 */
export class SubstitutionOrigins {
  private readonly from = new Map<string, string>();

  fetched(path: string, url: string): void {
    this.from.delete(path);
    this.from.set(path, url);
    for (const oldest of this.from.keys()) {
      if (this.from.size <= MAX_FETCHED) break;
      this.from.delete(oldest);
    }
  }

  of(path: string): string | undefined {
    return this.from.get(path);
  }
}

/** One entry of closure.json: path-info's fields as Nix wrote them, signatures and deriver always present, and where it came from. */
export type ProvenanceEntry = PathInfo & {
  signatures: string[];
  deriver: string | null;
  /** `substituted` from `substituter`; `built` in this node's store (Nix's `ultimate`); else `node-store`: it was there already. */
  origin: 'substituted' | 'built' | 'node-store';
  substituter?: string;
};

export function provenanceEntries(infos: readonly PathInfo[], origins: SubstitutionOrigins): ProvenanceEntry[] {
  return infos.map((info) => {
    const substituter = origins.of(info.path);
    const base = { ...info, signatures: info.signatures ?? [], deriver: info.deriver ?? null };
    if (substituter !== undefined) return { ...base, origin: 'substituted', substituter };
    return { ...base, origin: info.ultimate === true ? 'built' : 'node-store' };
  });
}

/**
 * Writes `<rootDir>/nix/var/nixmount/closure.json`: `{ "version": 1, "paths": [...] }`,
 * sorted by path, readable by anyone (the workload runs as any user). Written into a
 * view being built aside (renamed into place whole), so a plain write is enough.
 */
export async function writeClosureFile(rootDir: string, entries: readonly ProvenanceEntry[]): Promise<void> {
  const file = join(rootDir, 'nix', CLOSURE_FILE);
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const paths = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  await writeFile(file, `${JSON.stringify({ version: 1, paths }, null, 2)}\n`, { mode: 0o444, flag: 'wx' });
}
