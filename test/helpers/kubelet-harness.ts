import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { kubeletTargetPath } from '../../src/adapters/kubernetes/kubelet-paths.js';
import { POD_INFO_KEYS } from '../../src/adapters/kubernetes/pod-info.js';
import type { CsiClient } from './csi-client.js';
import { mountsBelow } from './mounts.js';
import { exists } from '../../support/fs.js';

/** A `csi` volume of a pod spec (spec.volumes[].csi). */
export interface PodCsiVolume {
  name: string;
  volumeAttributes: Record<string, string>;
  /** csi.readOnly; kubelet sends it as NodePublishVolume.readonly. */
  readOnly?: boolean;
  /** csi.fsType; kubelet sends "" when absent. */
  fsType?: string;
}

/** A CSI PersistentVolume as the external-provisioner writes it (and the claim's access modes it copied). */
export interface PersistentVolume {
  name: string;
  /** spec.csi.volumeHandle: CreateVolume's volume_id. */
  volumeHandle: string;
  /** spec.csi.volumeAttributes: CreateVolume's volume_context plus the provisioner's identity. */
  volumeAttributes: Record<string, string>;
  /** spec.accessModes (ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod); kubelet uses the first. */
  accessModes: string[];
  /** spec.csi.readOnly. */
  readOnly?: boolean;
  /** spec.csi.fsType; "" when absent. */
  fsType?: string;
  /** spec.mountOptions (from the StorageClass); kubelet sends them as mount_flags. */
  mountOptions?: string[];
}

/** A `persistentVolumeClaim` volume of a pod spec, already bound to its PV. */
export interface PodClaimVolume {
  name: string;
  persistentVolume: PersistentVolume;
  /** persistentVolumeClaim.readOnly. */
  readOnly?: boolean;
}

export type PodVolume = PodCsiVolume | PodClaimVolume;

export interface PodDescription {
  name: string;
  namespace?: string;
  /** Generated when absent, as the API server does. */
  uid?: string;
  serviceAccountName?: string;
  volumes: PodVolume[];
}

export interface Pod extends Required<Omit<PodDescription, 'volumes'>> {
  volumes: PodVolume[];
}

function isClaim(volume: PodVolume): volume is PodClaimVolume {
  return 'persistentVolume' in volume;
}

/** kubelet's asCSIAccessModeV1 for a PV's first access mode. */
function csiAccessMode(mode: string | undefined, types: Set<string>): string {
  switch (mode ?? 'ReadWriteOnce') {
    case 'ReadWriteOnce':
      return types.has('SINGLE_NODE_MULTI_WRITER') ? 'SINGLE_NODE_MULTI_WRITER' : 'SINGLE_NODE_WRITER';
    case 'ReadOnlyMany':
      return 'MULTI_NODE_READER_ONLY';
    case 'ReadWriteMany':
      return 'MULTI_NODE_MULTI_WRITER';
    case 'ReadWriteOncePod':
      return types.has('SINGLE_NODE_MULTI_WRITER') ? 'SINGLE_NODE_SINGLE_WRITER' : 'SINGLE_NODE_WRITER';
    default:
      throw new Error(`kubelet: unknown access mode ${mode}`);
  }
}

export interface CallOutcome {
  code: number;
  details: string;
}

export interface KubeletOptions {
  client: CsiClient;
  kubeletDir: string;
  nodeName: string;
  /** The CSIDriver's podInfoOnMount (our manifests set true). */
  podInfoOnMount?: boolean;
  /** Per-call deadline; kubelet gives every CSI call two minutes. */
  deadlineMs?: number;
}

const KUBELET_DEADLINE_MS = 120_000;

/** kubelet's isFinalError: these codes leave the operation "uncertain" (it may still be running in the plugin). */
const UNCERTAIN_CODES = new Set([status.CANCELLED, status.DEADLINE_EXCEEDED, status.UNAVAILABLE, status.RESOURCE_EXHAUSTED, status.ABORTED]);

export function isUncertain(code: number): boolean {
  return UNCERTAIN_CODES.has(code);
}

/** kubelet's VolumeAttachment name, which it records in vol_data.json even when no attach happens. */
export function attachmentName(volumeHandle: string, driverName: string, nodeName: string): string {
  return `csi-${createHash('sha256').update(`${volumeHandle}${driverName}${nodeName}`).digest('hex')}`;
}

/** kubelet's volume handle for an inline volume: "csi-" + hex(sha256(podUID + volumeName)). */
export function ephemeralVolumeId(podUid: string, volumeName: string): string {
  return `csi-${createHash('sha256').update(`${podUid}${volumeName}`).digest('hex')}`;
}

export function pod(description: PodDescription): Pod {
  return {
    namespace: 'default',
    uid: randomUUID(),
    serviceAccountName: 'default',
    ...description,
  };
}

/**
 * Replays what kubelet does with a CSI driver for inline ephemeral volumes and
 * for PersistentVolumes (attachRequired: false): the registration calls, then per
 * volume NodeGetCapabilities and NodePublishVolume with kubelet's volume id,
 * target path, context and access mode, and on pod deletion NodeUnpublishVolume
 * followed by kubelet's own directory cleanup. For a PV kubelet first prepares
 * the device mount directory (MountDevice; NodeStageVolume only for drivers that
 * advertise staging, which this harness does not replay) and removes it once no
 * pod on the node uses the PV any more (UnmountDevice).
 */
export class KubeletHarness {
  readonly kubeletDir: string;
  readonly nodeName: string;
  private readonly client: CsiClient;
  private readonly podInfoOnMount: boolean;
  private readonly deadlineMs: number;
  /** Per PV volume handle, the targets of pods that have it mounted (kubelet's actual state of the world). */
  private readonly deviceUsers = new Map<string, Set<string>>();

  constructor(options: KubeletOptions) {
    this.client = options.client;
    this.kubeletDir = options.kubeletDir;
    this.nodeName = options.nodeName;
    this.podInfoOnMount = options.podInfoOnMount ?? true;
    this.deadlineMs = options.deadlineMs ?? KUBELET_DEADLINE_MS;
  }

  /** node-driver-registrar asks GetPluginInfo; kubelet then asks NodeGetInfo on the registered socket. */
  async register(): Promise<{ driverName: string; nodeId: string; topology: Record<string, string> | undefined; maxVolumes: string }> {
    const info = await this.client.call('identity', 'GetPluginInfo', {}, this.deadlineMs);
    const node = await this.client.call('node', 'NodeGetInfo', {}, this.deadlineMs);
    return { driverName: info.name, nodeId: node.node_id, topology: node.accessible_topology?.segments, maxVolumes: node.max_volumes_per_node };
  }

  volumeId(p: Pod, volume: PodVolume): string {
    return isClaim(volume) ? volume.persistentVolume.volumeHandle : ephemeralVolumeId(p.uid, volume.name);
  }

  /** For a PV the directory is named after the PV, not the pod's volume. */
  targetPath(p: Pod, volume: PodVolume): string {
    return kubeletTargetPath(this.kubeletDir, p.uid, isClaim(volume) ? volume.persistentVolume.name : volume.name);
  }

  /** Where kubelet would stage a PV (makeDeviceMountPath): plugins/kubernetes.io/csi/<driver>/<sha256(handle)>/globalmount. */
  deviceMountPath(driverName: string, pv: PersistentVolume): string {
    const handleHash = createHash('sha256').update(pv.volumeHandle).digest('hex');
    return join(this.kubeletDir, 'plugins', 'kubernetes.io', 'csi', driverName, handleHash, 'globalmount');
  }

  podDir(p: Pod): string {
    return join(this.kubeletDir, 'pods', p.uid);
  }

  /** The attributes with, under podInfoOnMount, the pod-info keys merged over them (kubelet's keys win). */
  private volumeContext(p: Pod, attributes: Record<string, string> | undefined, ephemeral: boolean): Record<string, string> {
    const context: Record<string, string> = { ...attributes };
    if (this.podInfoOnMount) {
      Object.assign(context, {
        [POD_INFO_KEYS.podName]: p.name,
        [POD_INFO_KEYS.podNamespace]: p.namespace,
        [POD_INFO_KEYS.podUid]: p.uid,
        [POD_INFO_KEYS.serviceAccount]: p.serviceAccountName,
        [POD_INFO_KEYS.ephemeral]: String(ephemeral),
      });
    }
    return context;
  }

  /** The NodePublishVolumeRequest kubelet builds; the access mode depends on what the node advertises. */
  async publishRequest(p: Pod, volume: PodVolume): Promise<Record<string, unknown>> {
    const types = await this.nodeCapabilities();
    if (isClaim(volume)) return this.persistentPublishRequest(p, volume, types);
    const context = this.volumeContext(p, volume.volumeAttributes, true);
    return {
      volume_id: this.volumeId(p, volume),
      publish_context: {},
      staging_target_path: '',
      target_path: this.targetPath(p, volume),
      volume_capability: {
        mount: { fs_type: volume.fsType ?? '', mount_flags: [] },
        access_mode: { mode: types.has('SINGLE_NODE_MULTI_WRITER') ? 'SINGLE_NODE_MULTI_WRITER' : 'SINGLE_NODE_WRITER' },
      },
      readonly: volume.readOnly ?? false,
      secrets: {},
      volume_context: context,
    };
  }

  /** csiMountMgr.SetUpAt for a PV: the PV's attributes, fsType, mount options and first access mode. */
  private persistentPublishRequest(p: Pod, volume: PodClaimVolume, types: Set<string>): Record<string, unknown> {
    const pv = volume.persistentVolume;
    if (types.has('STAGE_UNSTAGE_VOLUME')) throw new Error('kubelet harness: NodeStageVolume for PVs is not replayed');
    const context = this.volumeContext(p, pv.volumeAttributes, false);
    return {
      volume_id: pv.volumeHandle,
      publish_context: {},
      staging_target_path: '',
      target_path: this.targetPath(p, volume),
      volume_capability: {
        mount: { fs_type: pv.fsType ?? '', mount_flags: pv.mountOptions ?? [] },
        access_mode: { mode: csiAccessMode(pv.accessModes[0], types) },
      },
      // getReadOnlyFromSpec: the PV's csi.readOnly or the pod's claim readOnly.
      readonly: (pv.readOnly ?? false) || (volume.readOnly ?? false),
      secrets: {},
      volume_context: context,
    };
  }

  private async nodeCapabilities(): Promise<Set<string>> {
    const capabilities = await this.client.call('node', 'NodeGetCapabilities', {}, this.deadlineMs);
    return new Set<string>((capabilities.capabilities ?? []).map((c: { rpc?: { type: string } }) => c.rpc?.type));
  }

  private async driverName(): Promise<string> {
    return (await this.client.call('identity', 'GetPluginInfo', {}, this.deadlineMs)).name;
  }

  /**
   * csiAttacher.MountDevice without staging: the device mount directory and the
   * vol_data.json next to it, kept for UnmountDevice.
   */
  private async mountDevice(pv: PersistentVolume): Promise<void> {
    const deviceMountPath = this.deviceMountPath(await this.driverName(), pv);
    await mkdir(deviceMountPath, { recursive: true, mode: 0o750 });
    await writeFile(join(dirname(deviceMountPath), 'vol_data.json'), JSON.stringify({ volumeHandle: pv.volumeHandle, driverName: await this.driverName() }));
  }

  /** csiAttacher.UnmountDevice without staging: removes the device mount directory and its vol_data.json. */
  private async unmountDevice(pv: PersistentVolume): Promise<void> {
    const deviceMountPath = this.deviceMountPath(await this.driverName(), pv);
    await this.removeMountDir(deviceMountPath);
  }

  /**
   * One mount attempt of one volume, as kubelet's csiMountMgr.SetUpAt makes it:
   * parent directory and vol_data.json first, then NodePublishVolume; after a
   * final (not uncertain) error kubelet removes the directories again.
   */
  async mountVolume(p: Pod, volume: PodVolume, deadlineMs = this.deadlineMs): Promise<CallOutcome> {
    const target = this.targetPath(p, volume);
    const volumeDir = dirname(target);
    const driverName = await this.driverName();
    const volumeHandle = this.volumeId(p, volume);
    if (isClaim(volume) && !this.deviceUsers.has(volumeHandle)) {
      await this.mountDevice(volume.persistentVolume);
      this.deviceUsers.set(volumeHandle, new Set());
    }
    await mkdir(volumeDir, { recursive: true, mode: 0o750 });
    await writeFile(
      join(volumeDir, 'vol_data.json'),
      JSON.stringify({
        specVolumeID: isClaim(volume) ? volume.persistentVolume.name : volume.name,
        volumeHandle,
        driverName,
        nodeName: this.nodeName,
        ...(isClaim(volume) ? { attachmentID: attachmentName(volumeHandle, driverName, this.nodeName) } : {}),
        volumeLifecycleMode: isClaim(volume) ? 'Persistent' : 'Ephemeral',
      }),
    );
    const outcome = await this.outcome('NodePublishVolume', await this.publishRequest(p, volume), deadlineMs);
    if (outcome.code !== 0 && !isUncertain(outcome.code)) await this.removeMountDir(target);
    if (outcome.code === 0 && isClaim(volume)) this.deviceUsers.get(volumeHandle)!.add(target);
    return outcome;
  }

  /**
   * kubelet keeps retrying a failed mount while the pod exists, with exponential
   * backoff; here a bounded number of attempts with a short backoff.
   */
  async mountVolumeWithRetries(p: Pod, volume: PodVolume, attempts = 5): Promise<CallOutcome[]> {
    return retried(attempts, () => this.mountVolume(p, volume));
  }

  /** Starts a pod: mounts all its volumes concurrently, as kubelet's volume manager does. */
  async startPod(p: Pod): Promise<CallOutcome[]> {
    return Promise.all(p.volumes.map((volume) => this.mountVolume(p, volume)));
  }

  /**
   * NodeUnpublishVolume, then kubelet's removeMountDir (only when the call succeeded);
   * for a PV no other pod on the node uses any more, then UnmountDevice.
   */
  async unmountVolume(p: Pod, volume: PodVolume, deadlineMs = this.deadlineMs): Promise<CallOutcome> {
    const target = this.targetPath(p, volume);
    const volumeHandle = this.volumeId(p, volume);
    const outcome = await this.outcome('NodeUnpublishVolume', { volume_id: volumeHandle, target_path: target }, deadlineMs);
    if (outcome.code !== 0) return outcome;
    await this.removeMountDir(target);
    const users = this.deviceUsers.get(volumeHandle);
    if (isClaim(volume) && users) {
      users.delete(target);
      if (users.size === 0) {
        await this.unmountDevice(volume.persistentVolume);
        this.deviceUsers.delete(volumeHandle);
      }
    }
    return outcome;
  }

  /** Pod deletion: every volume unpublished (uncertain answers retried, bounded), then the pod directory removed. */
  async deletePod(p: Pod, attemptsPerVolume = 5): Promise<CallOutcome[]> {
    const outcomes: CallOutcome[] = [];
    for (const volume of p.volumes) {
      const tries = await retried(attemptsPerVolume, () => this.unmountVolume(p, volume), isUncertain);
      outcomes.push(tries[tries.length - 1]!);
    }
    if (outcomes.every((o) => o.code === 0)) await rm(this.podDir(p), { recursive: true, force: true });
    return outcomes;
  }

  /** Whatever is mounted below the kubelet root. */
  mounts(): Promise<string[]> {
    return mountsBelow(this.kubeletDir);
  }

  private async outcome(method: string, request: Record<string, unknown>, deadlineMs: number): Promise<CallOutcome> {
    try {
      await this.client.call('node', method, request, deadlineMs);
      return { code: 0, details: '' };
    } catch (error) {
      const e = error as ServiceError;
      return { code: e.code, details: e.details };
    }
  }

  /**
   * kubelet's removeMountDir: the mount directory only if nothing is mounted
   * there (os.Remove refuses a non-empty one), then vol_data.json and the
   * volume's directory.
   */
  private async removeMountDir(target: string): Promise<void> {
    const mounted = (await mountsBelow(target)).includes(target);
    if (mounted) throw new Error(`kubelet: ${target} is still mounted; it would not remove it`);
    if (await exists(target)) await rmdir(target);
    const volumeDir = dirname(target);
    await unlink(join(volumeDir, 'vol_data.json')).catch(ignoreMissing);
    await rmdir(volumeDir).catch(ignoreMissing);
  }
}

/** Calls `attempt` until it succeeds, `retryOn` says no, or `attempts` run out; backoff doubles from 50 ms. */
async function retried(attempts: number, attempt: () => Promise<CallOutcome>, retryOn: (code: number) => boolean = () => true): Promise<CallOutcome[]> {
  const outcomes: CallOutcome[] = [];
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** (i - 1)));
    const outcome = await attempt();
    outcomes.push(outcome);
    if (outcome.code === 0 || !retryOn(outcome.code)) break;
  }
  return outcomes;
}


function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
