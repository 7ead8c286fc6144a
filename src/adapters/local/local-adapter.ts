import type { NodeIdentity, OrchestratorAdapter, ParsedVolumeContext } from '../../core/orchestrator-adapter.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { quote } from '../../core/quote.js';
import { STORE_DIR } from '../../core/store-path.js';
import { parseUserContext } from '../../core/volume-context.js';
import { assertNoSymlinkBelow, canonicalPath, isAtOrBelow, isBelow, ProtectedDirs } from '../common/paths.js';

/** Directories of the system a volume may never be mounted on (a new directory below some of them is fine). */
const SYSTEM_DIRS = [
  '/', '/etc', '/usr', '/bin', '/sbin', '/lib', '/lib64', '/boot', '/dev', '/proc', '/sys', '/run', '/var', '/var/lib',
  '/root', '/home', '/tmp', '/opt', '/srv', '/mnt', '/media',
];
/** Trees owned by the kernel, the boot loader or the distribution: nothing below them either. */
const SYSTEM_TREES = ['/proc', '/sys', '/dev', '/boot', '/etc', '/usr', '/bin', '/sbin', '/nix'];

export interface LocalAdapterOptions {
  /** Directories no path may be in or hide (the state dir, /nix, the store's root); see AdapterOptions. */
  protectedDirs?: readonly string[];
}

/**
 * No orchestrator: people and scripts publishing by hand (`nixmount publish`). Any
 * absolute directory that is not part of the system, nixmount's state or a store, and
 * that is reached without symlinks from `/`.
 */
export class LocalAdapter implements OrchestratorAdapter {
  readonly name = 'local';
  readonly supportsStaging = false;
  private readonly protectedDirs: ProtectedDirs;

  constructor(
    private readonly nodeId: string,
    options: LocalAdapterOptions = {},
  ) {
    this.protectedDirs = new ProtectedDirs(options.protectedDirs ?? []);
  }

  parseVolumeContext(context: Readonly<Record<string, string>>): ParsedVolumeContext {
    return { spec: parseUserContext(context), ephemeral: false, workload: {} };
  }

  nodeIdentity(): NodeIdentity {
    return { nodeId: this.nodeId, maxVolumesPerNode: 0, topology: {} };
  }

  checkTargetPath(path: string): string {
    return this.check(path, 'target_path');
  }

  checkStagingPath(path: string): string {
    return this.check(path, 'staging_target_path');
  }

  private check(path: string, field: string): string {
    const canonical = canonicalPath(path, field);
    if (SYSTEM_DIRS.includes(canonical)) {
      throw new InvalidArgumentError(`${field}: ${quote(canonical)} is a system directory; publish into a new directory such as /srv/<name>`);
    }
    if (isAtOrBelow(canonical, STORE_DIR)) {
      throw new InvalidArgumentError(`${field}: ${quote(canonical)} is ${canonical === STORE_DIR ? 'the Nix store' : 'inside the Nix store'}; a mount there would shadow store paths`);
    }
    const tree = SYSTEM_TREES.find((dir) => isBelow(canonical, dir)) ?? (/^\/lib[^/]*\//.test(canonical) ? canonical.split('/').slice(0, 2).join('/') : undefined);
    if (tree !== undefined) {
      throw new InvalidArgumentError(`${field}: ${quote(canonical)} is inside ${quote(tree)}, which belongs to the system`);
    }
    this.protectedDirs.check(canonical, field);
    // From `/`: every existing component, so a symlink to /etc anywhere on the way is refused.
    assertNoSymlinkBelow(canonical, '/', field);
    return canonical;
  }
}
