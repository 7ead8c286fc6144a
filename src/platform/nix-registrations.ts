/** How many paths' registrations are kept (about 500 bytes each with signatures: ten MiB at most). */
const MAX_ENTRIES = 20_000;

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
 * What `nix path-info --json --recursive` says of a closure, kept as the lines
 * `nix-store --load-db` reads (path, hash, NAR size, deriver, references: the
 * format `nix-store --dump-db` prints), so that registering a view's closure in its
 * own database takes one Nix process instead of a `--dump-db | --load-db` pair. A
 * valid path's registration never changes while it stays valid; one that left the
 * store in between is still refused by the view's linking (its files are gone).
 * Bounded: the oldest entries go first.
 */
export class NixRegistrations {
  private readonly infos = new Map<string, PathInfo>();

  /**
   * Parses path-info's JSON (an array of infos, as Nix 2.4–2.18 print it, or an
   * object keyed by path, as later ones do), remembers each path's registration and
   * answers the closure; undefined when the output is not what is expected (the
   * caller then asks the older way), or when a path is not valid.
   */
  remember(json: string): string[] | undefined {
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
    for (const info of infos) {
      this.infos.delete(info.path);
      this.infos.set(info.path, info);
    }
    for (const oldest of this.infos.keys()) {
      if (this.infos.size <= MAX_ENTRIES) break;
      this.infos.delete(oldest);
    }
    return [...new Set(infos.map((info) => info.path))].sort();
  }

  /** The `--load-db` input registering `paths`, or undefined when one of them is not known here. */
  loadDbInput(paths: readonly string[]): string | undefined {
    const infos = this.infosOf(paths);
    return infos?.map((info) => `${info.path}\n${info.narHash}\n${info.narSize}\n${info.deriver ?? ''}\n${info.references.length}\n${info.references.map((ref) => `${ref}\n`).join('')}`).join('');
  }

  /** What path-info said of each of `paths`, in their order, or undefined when one of them is not known here. */
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

/** path-info's JSON parsed into infos, for a caller that does not keep them; undefined as for `remember`. */
export function parsePathInfos(json: string): PathInfo[] | undefined {
  const registrations = new NixRegistrations();
  const paths = registrations.remember(json);
  return paths && registrations.infosOf(paths);
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
