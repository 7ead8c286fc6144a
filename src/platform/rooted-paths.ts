/**
 * What this plugin's own GC roots guarantee: a path it roots stays valid, with
 * the same closure, until the root is dropped (the garbage collector honours the
 * roots, and a valid path's references never change). Answering "valid?" and
 * "closure?" from here spares the warm publish two Nix processes, ~30 ms each,
 * for closures a view already holds.
 */
export class RootedPaths {
  private readonly byHolder = new Map<string, readonly string[]>();
  private readonly holders = new Map<string, number>();
  private readonly closures = new Map<string, readonly string[]>();
  // Bumped whenever a root is dropped: a closure query that began before cannot be trusted.
  private generation = 0;

  hold(holder: string, roots: readonly string[]): void {
    this.drop(holder);
    this.byHolder.set(holder, [...roots]);
    for (const root of roots) this.holders.set(root, (this.holders.get(root) ?? 0) + 1);
  }

  drop(holder: string): void {
    const roots = this.byHolder.get(holder);
    if (!roots) return;
    this.byHolder.delete(holder);
    this.generation++;
    for (const root of roots) {
      const left = (this.holders.get(root) ?? 1) - 1;
      if (left > 0) this.holders.set(root, left);
      else this.holders.delete(root);
    }
    for (const key of this.closures.keys()) {
      if (!this.allRooted(key.split('\n'))) this.closures.delete(key);
    }
  }

  isRooted(path: string): boolean {
    return this.holders.has(path);
  }

  /** The closure of `roots` if it was computed while they were rooted, and they still are. */
  closureOf(roots: readonly string[]): string[] | undefined {
    if (!this.allRooted(roots)) return undefined;
    const closure = this.closures.get(closureKey(roots));
    return closure ? [...closure] : undefined;
  }

  /**
   * Taken before a closure query: defined only when every root is rooted now. Only
   * rooted roots cannot change, so only their closures are worth remembering.
   */
  ticket(roots: readonly string[]): number | undefined {
    return this.allRooted(roots) ? this.generation : undefined;
  }

  /** Remembers a closure whose query began with `ticket`, if no root was dropped since. */
  remember(roots: readonly string[], closure: readonly string[], ticket: number | undefined): void {
    if (ticket === this.generation && this.allRooted(roots)) this.closures.set(closureKey(roots), [...closure]);
  }

  private allRooted(paths: readonly string[]): boolean {
    return paths.length > 0 && paths.every((path) => this.holders.has(path));
  }
}

export function closureKey(roots: readonly string[]): string {
  return [...new Set(roots)].sort().join('\n');
}
