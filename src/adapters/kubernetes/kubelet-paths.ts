import { normalize } from 'node:path';
import { InvalidArgumentError } from '../../core/errors.js';
import { assertAbsolutePath, isBelow } from '../common/paths.js';

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

function isPlainSegment(segment: string | undefined): boolean {
  return segment !== undefined && segment !== '' && segment !== '.' && segment !== '..';
}

/** kubelet's paths, checked exactly: a request for any other path did not come from kubelet. */
export class KubeletPaths {
  readonly root: string;

  constructor(kubeletDir: string) {
    assertAbsolutePath(kubeletDir, '--kubelet-dir');
    this.root = normalize(kubeletDir).replace(/\/+$/, '') || '/';
  }

  checkTarget(path: string): void {
    assertAbsolutePath(path, 'target_path');
    const rest = this.relative(path, 'target_path');
    // pods/<uid>/volumes/kubernetes.io~csi/<name>/mount
    const parts = rest.split('/');
    const ok =
      parts.length === 6 &&
      parts[0] === 'pods' &&
      isPlainSegment(parts[1]) &&
      parts[2] === 'volumes' &&
      parts[3] === CSI_VOLUME_PLUGIN_DIR &&
      isPlainSegment(parts[4]) &&
      parts[5] === 'mount';
    if (!ok) {
      throw new InvalidArgumentError(
        `target_path: "${path}" is not a kubelet volume path (${this.root}/pods/<pod-uid>/volumes/${CSI_VOLUME_PLUGIN_DIR}/<volume>/mount)`,
      );
    }
  }

  /** Staging paths of CSI PersistentVolumes: <kubelet>/plugins/kubernetes.io/csi/…/globalmount. */
  checkStaging(path: string): void {
    assertAbsolutePath(path, 'staging_target_path');
    const rest = this.relative(path, 'staging_target_path');
    const parts = rest.split('/');
    const ok =
      parts.length >= 5 &&
      parts[0] === 'plugins' &&
      parts[1] === 'kubernetes.io' &&
      parts[2] === 'csi' &&
      parts.slice(3, -1).every(isPlainSegment) &&
      parts[parts.length - 1] === 'globalmount';
    if (!ok) {
      throw new InvalidArgumentError(
        `staging_target_path: "${path}" is not a kubelet staging path (${this.root}/plugins/kubernetes.io/csi/…/globalmount)`,
      );
    }
  }

  private relative(path: string, field: string): string {
    if (normalize(path) !== path || !isBelow(path, this.root)) {
      throw new InvalidArgumentError(`${field}: "${path}" is not below the kubelet directory ${this.root}`);
    }
    return path.slice(this.root === '/' ? 1 : this.root.length + 1);
  }
}
