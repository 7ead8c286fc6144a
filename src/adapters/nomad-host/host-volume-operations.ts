import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LocalAdapter } from '../local/local-adapter.js';
import { AlreadyExistsError } from '../../core/errors.js';
import type { NodeVolumes } from '../../core/node-volumes.js';
import { busyWaitMs, realiseWaitMs, type HostVolumeDeadlines } from './host-volume-deadlines.js';
import type { HostVolumeRequest } from './host-volume-request.js';

/** What a host volume operation runs against: the node's front door and the local adapter's path rules (the door reads contexts with it too). */
export interface HostVolumeNode {
  volumes: NodeVolumes;
  adapter: LocalAdapter;
}

export interface CreatedHostVolume {
  path: string;
  bytes: number;
}

/**
 * Create: the volume's closure read-only (or an overlay when asked) at the path Nomad
 * named. The same code runs in the plugin's own process and in a `nixmount serve` that
 * owns the state dir, so both routes keep one set of rules.
 */
export async function createHostVolume(node: HostVolumeNode, request: HostVolumeRequest, deadlines: HostVolumeDeadlines): Promise<CreatedHostVolume> {
  const waitMs = realiseWaitMs(deadlines, Date.now());
  // The canonical path the local adapter accepts (the rules of `nixmount publish`).
  const target = node.adapter.checkTargetPath(request.path);
  await node.volumes
    .publish({
      volumeId: request.volumeId,
      targetPath: target,
      readonly: request.readonly,
      // Nomad bind-mounts the path into each task itself; nixmount's mount is one per volume.
      accessMode: request.readonly ? 'single-node-reader-only' : 'single-node-writer',
      mountFlags: [],
      context: request.context,
      // The client's volumes dir is Nomad's to name but may not exist yet (its own mkdir plugin creates parents too).
      beforePublish: async () => {
        await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      },
      realiseWaitMs: waitMs,
      // Nomad does not retry a failed create: a create or delete of the same path under way
      // (Nomad's retry after its kill, another plugin name) is waited for, within this call's wait.
      whenBusy: { waitMs },
      // The plugin tells Nomad "failed" at this time: a volume made later would be one Nomad never deletes.
      answerBy: deadlines.answerBy,
      // A CSI volume at this path (or of this id) is not this host volume's to reuse or replace.
      origin: 'host-volume',
    })
    .catch((error: unknown) => {
      if (!(error instanceof AlreadyExistsError)) throw error;
      // A spec changed under the same id: tasks may hold the old mount, so nothing is swapped under them.
      throw new AlreadyExistsError(
        `volume ${request.volumeId} already exists on this node with other parameters (${error.message}); nixmount does not change a volume in place: delete it and create it again`,
      );
    });
  // A Nix volume has no capacity of its own (the controller reports 0 too).
  return { path: target, bytes: 0 };
}

/**
 * Delete: absent (never created, or deleted before) is success, as Nomad needs; a CSI
 * volume at the path is refused and stays. An operation under way on the path is waited
 * for until the answer-by time; a delete that finishes later stands (Nomad's next delete
 * of the volume finds it gone, which is success).
 */
export async function deleteHostVolume(node: HostVolumeNode, request: HostVolumeRequest, deadlines: HostVolumeDeadlines): Promise<void> {
  const target = node.adapter.checkTargetPath(request.path);
  await node.volumes.unpublish(request.volumeId, target, undefined, { whenBusy: { waitMs: busyWaitMs(deadlines, Date.now()) }, origin: 'host-volume' });
}
