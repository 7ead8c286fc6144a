import { InvalidArgumentError } from '../../core/errors.js';
import { quote } from '../../core/quote.js';
import { assertNoSymlinkBelow, canonicalPath, isAtOrBelow, isBelow, ProtectedDirs, realpathOfExisting } from '../common/paths.js';

export const DEFAULT_KUBELET_DIR = '/var/lib/kubelet';

/** kubelet's directory for CSI volumes of one pod: <kubelet>/pods/<podUID>/volumes/kubernetes.io~csi/<volume>/mount. */
export const CSI_VOLUME_PLUGIN_DIR = 'kubernetes.io~csi';

/** Where kubelet asks a CSI driver to publish the volume `volumeName` of pod `podUid`. */
export function kubeletTargetPath(kubeletDir: string, podUid: string, volumeName: string): string {
  return `${kubeletDir}/pods/${podUid}/volumes/${CSI_VOLUME_PLUGIN_DIR}/${volumeName}/mount`;
}

/** Where node-driver-registrar tells kubelet to find a driver's socket. */
export function kubeletPluginSocket(kubeletDir: string, driverName: string): string {
  return `${kubeletDir}/plugins/${driverName}/csi.sock`;
}

/**
 * kubelet's paths, checked exactly: a request for any other path did not come from
 * kubelet. Each check returns the canonical path, after refusing any symlink below the
 * kubelet dir (a pod can plant one in a volume directory it shares) and anything the
 * plugin protects. The kubelet dir itself may be a symlink (some distributions move it),
 * so its realpath is taken once, at start, and every target must resolve below it.
 */
export class KubeletPaths {
  readonly root: string;
  private readonly realRoot: string;

  constructor(
    kubeletDir: string,
    private readonly protectedDirs: ProtectedDirs = new ProtectedDirs([]),
  ) {
    this.root = canonicalPath(kubeletDir, '--kubelet-dir');
    this.realRoot = realpathOfExisting(this.root);
  }

  checkTarget(path: string): string {
    const canonical = this.relative(path, 'target_path');
    // pods/<uid>/volumes/kubernetes.io~csi/<name>/mount
    const parts = this.rest(canonical);
    const ok =
      parts.length === 6 &&
      parts[0] === 'pods' &&
      parts[2] === 'volumes' &&
      parts[3] === CSI_VOLUME_PLUGIN_DIR &&
      parts[5] === 'mount';
    if (!ok) {
      throw new InvalidArgumentError(
        `target_path: ${quote(path)} is not a kubelet volume path (${this.root}/pods/<pod-uid>/volumes/${CSI_VOLUME_PLUGIN_DIR}/<volume>/mount)`,
      );
    }
    return this.confine(canonical, 'target_path');
  }

  /** Staging paths of CSI PersistentVolumes: <kubelet>/plugins/kubernetes.io/csi/…/globalmount. */
  checkStaging(path: string): string {
    const canonical = this.relative(path, 'staging_target_path');
    const parts = this.rest(canonical);
    const ok =
      parts.length >= 5 &&
      parts[0] === 'plugins' &&
      parts[1] === 'kubernetes.io' &&
      parts[2] === 'csi' &&
      parts[parts.length - 1] === 'globalmount';
    if (!ok) {
      throw new InvalidArgumentError(
        `staging_target_path: ${quote(path)} is not a kubelet staging path (${this.root}/plugins/kubernetes.io/csi/…/globalmount)`,
      );
    }
    return this.confine(canonical, 'staging_target_path');
  }

  /** The canonical form of `path`, which must lie below the kubelet dir. */
  private relative(path: string, field: string): string {
    const canonical = canonicalPath(path, field);
    if (!isBelow(canonical, this.root)) {
      throw new InvalidArgumentError(`${field}: ${quote(path)} is not below the kubelet directory ${quote(this.root)}`);
    }
    return canonical;
  }

  private rest(canonical: string): string[] {
    return canonical.slice(this.root === '/' ? 1 : this.root.length + 1).split('/');
  }

  private confine(canonical: string, field: string): string {
    assertNoSymlinkBelow(canonical, this.root, field);
    const real = realpathOfExisting(canonical);
    if (!isAtOrBelow(real, this.realRoot)) {
      throw new InvalidArgumentError(
        `${field}: ${quote(canonical)} resolves to ${quote(real)}, outside the kubelet directory ${quote(this.realRoot)}`,
      );
    }
    this.protectedDirs.check(canonical, field);
    this.protectedDirs.check(real, field);
    return canonical;
  }
}
