import { injectable } from 'inversify';
import type { ClosureRegistration } from './ports/nix-store.js';

/** The roots of a volume and their whole closure, as a publish or stage hands them to the view manager. */
export interface PreparedRoots {
  roots: string[];
  closure: string[];
  /**
   * What the node store's closure query said of registering the closure (see
   * ClosureRegistration), for the view built from it; absent when the closure was known
   * without a query (then the view exists already, or its registration asks Nix).
   */
  registration?: ClosureRegistration;
}

/**
 * Closures the node need not ask Nix about again: those of roots a view holds GC
 * roots on. While that view exists its roots stay valid (the collector honours the
 * roots) and a valid path's references never change, so the closure is known for
 * sure. Only the view manager adds and drops entries, when a view appears and goes;
 * a warm publish is then answered from here without starting a Nix process.
 */
@injectable()
export class RootedClosures {
  private readonly byRoots = new Map<string, { closure: readonly string[]; viewKey: string }>();

  remember(prepared: PreparedRoots, viewKey: string): void {
    this.byRoots.set(rootsKey(prepared.roots), { closure: [...prepared.closure], viewKey });
  }

  forgetView(viewKey: string): void {
    for (const [key, entry] of this.byRoots) if (entry.viewKey === viewKey) this.byRoots.delete(key);
  }

  closureOf(roots: readonly string[]): string[] | undefined {
    const entry = this.byRoots.get(rootsKey(roots));
    return entry ? [...entry.closure] : undefined;
  }
}

function rootsKey(roots: readonly string[]): string {
  return [...new Set(roots)].sort().join('\n');
}
