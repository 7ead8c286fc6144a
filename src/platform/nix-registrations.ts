import type { ClosureRegistration } from '../core/ports/nix-store.js';

/** One path as `nix path-info --json` describes it (the fields nixmount reads; the others are kept as Nix wrote them). */
export interface PathInfo {
  path: string;
  narHash: string;
  narSize: number;
  references: string[];
  deriver?: string | null;
  signatures?: string[];
  /** Built in this store (not substituted or copied). */
  ultimate?: boolean;
  [field: string]: unknown;
}

/**
 * What `nix path-info --json --recursive` said of one closure, carried with the closure
 * from the query to the view built from it (see ClosureRegistration), so that
 * registering the closure in the view's own database takes one Nix process
 * (`nix-store --load-db` fed the lines `nix-store --dump-db` would print: path, hash,
 * NAR size, deriver, references) instead of a `--dump-db | --load-db` pair. A valid
 * path's registration never changes while it stays valid; one that left the store in
 * between is still refused by the view's linking (its files are gone). It lives as long
 * as the answer it came with: nothing is kept in the store object between calls.
 */
export class PathInfoRegistration implements ClosureRegistration {
  private readonly infos = new Map<string, PathInfo>();

  constructor(infos: Iterable<PathInfo>) {
    for (const info of infos) this.infos.set(info.path, info);
  }

  get size(): number {
    return this.infos.size;
  }

  /** Every path it describes, sorted: the closure. */
  paths(): string[] {
    return [...this.infos.keys()].sort();
  }

  /** The `--load-db` input registering `paths`, or undefined when one of them is not described here. */
  loadDbInput(paths: readonly string[]): string | undefined {
    const infos = this.infosOf(paths);
    return infos?.map((info) => `${info.path}\n${info.narHash}\n${info.narSize}\n${info.deriver ?? ''}\n${info.references.length}\n${info.references.map((ref) => `${ref}\n`).join('')}`).join('');
  }

  /** What path-info said of each of `paths`, in their order, or undefined when one of them is not described here. */
  infosOf(paths: readonly string[]): PathInfo[] | undefined {
    const out: PathInfo[] = [];
    for (const path of paths) {
      const info = this.infos.get(path);
      if (info === undefined) return undefined;
      out.push(info);
    }
    return out;
  }
}

/**
 * path-info's JSON (an array of infos, as Nix 2.4–2.18 print it, or an object keyed by
 * path, as later ones do) parsed into infos; undefined when the output is not what is
 * expected (the caller then asks the older way), or when a path is not valid.
 */
export function parsePathInfos(json: string): PathInfo[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  const infos = Array.isArray(parsed)
    ? parsed
    : parsed && typeof parsed === 'object'
      ? Object.entries(parsed as Record<string, unknown>).map(([path, info]) => (info && typeof info === 'object' ? { path, ...info } : { path }))
      : undefined;
  if (!infos || infos.length === 0 || !infos.every(isPathInfo)) return undefined;
  return infos;
}

/** An absolute path on one line (a later Nix printing base names, or anything else, is not taken). */
function isPath(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('/') && !value.includes('\n');
}

function isPathInfo(value: unknown): value is PathInfo {
  const info = value as Partial<PathInfo> | null;
  return (
    isPath(info?.path) &&
    typeof info.narHash === 'string' &&
    /^[\w:+/=-]+$/.test(info.narHash) &&
    Number.isSafeInteger(info.narSize) &&
    Array.isArray(info.references) &&
    info.references.every(isPath) &&
    (info.deriver === undefined || info.deriver === null || isPath(info.deriver)) &&
    (info.signatures === undefined || (Array.isArray(info.signatures) && info.signatures.every((sig) => typeof sig === 'string')))
  );
}
