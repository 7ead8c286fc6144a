import { assertNoSymlinkBelow, canonicalPath, InvalidArgumentError, isAtOrBelow, isBelow, quote, realpathOfExisting, type ProtectedDirs } from 'nixmount/sdk';

/**
 * Where Swarm's node agent stages and publishes, in the plugin's own file system:
 * `/data/staged/<volume>` and `/data/published/<volume>`, where <volume> is the Swarm
 * volume object's id. The published dir is the managed plugin's propagatedMount, so
 * Docker sees the mounts made below it (moby/moby docs/cluster_volumes.md).
 */
export const DEFAULT_PUBLISHED_DIR = '/data/published';
export const DEFAULT_STAGED_DIR = '/data/staged';

// Swarm object ids are lower-case letters and digits (25 of them today); a little more is
// allowed, never a `/` or a name that starts with a dot.
const VOLUME_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/**
 * One of the two directories: `check` returns the canonical `<dir>/<volume>`, refusing
 * any other shape, a symlink below the dir, and anything nixmount protects. The dir may
 * itself be reached through a symlink; its real path is taken once, at start, and every
 * path must still resolve below it (a dir replaced by a link later is refused).
 */
export class SwarmDir {
  readonly dir: string;
  private readonly realDir: string;

  constructor(
    dir: string,
    private readonly option: string,
    private readonly field: string,
    private readonly protectedDirs: ProtectedDirs,
  ) {
    try {
      this.dir = canonicalPath(dir, option);
    } catch (error) {
      throw new Error(`docker-swarm: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.realDir = realpathOfExisting(this.dir);
  }

  check(path: string): string {
    const canonical = canonicalPath(path, this.field);
    const rest = isBelow(canonical, this.dir) ? canonical.slice(this.dir.length + 1) : '';
    if (!VOLUME_ID.test(rest)) {
      throw new InvalidArgumentError(`${this.field}: ${quote(path)} is not a Swarm ${this.option === 'staged-dir' ? 'staging' : 'publish'} path (${this.dir}/<volume id>)`);
    }
    assertNoSymlinkBelow(canonical, this.dir, this.field);
    const real = realpathOfExisting(canonical);
    if (!isAtOrBelow(real, this.realDir)) {
      throw new InvalidArgumentError(`${this.field}: ${quote(canonical)} resolves to ${quote(real)}, outside ${quote(this.realDir)}`);
    }
    this.protectedDirs.check(canonical, this.field);
    this.protectedDirs.check(real, this.field);
    return canonical;
  }
}
