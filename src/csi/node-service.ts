import { InvalidArgumentError, NotFoundError, PathThroughSymlinkError, isNixmountError } from '../core/errors.js';
import { quote } from '../core/quote.js';
import type { NodeVolumes } from '../core/node-volumes.js';
import type { OrchestratorAdapter } from '../core/orchestrator-adapter.js';
import { assertContextBounds } from '../core/volume-context.js';
import type { NodeHandlers } from '../gen/csi/v1/Node.js';
import type { NodeServiceCapability } from '../gen/csi/v1/NodeServiceCapability.js';
import type { NodeGetVolumeStatsRequest__Output } from '../gen/csi/v1/NodeGetVolumeStatsRequest.js';
import type { NodePublishVolumeRequest__Output } from '../gen/csi/v1/NodePublishVolumeRequest.js';
import type { NodeUnpublishVolumeRequest__Output } from '../gen/csi/v1/NodeUnpublishVolumeRequest.js';
import type { NodeStageVolumeRequest__Output } from '../gen/csi/v1/NodeStageVolumeRequest.js';
import type { NodeUnstageVolumeRequest__Output } from '../gen/csi/v1/NodeUnstageVolumeRequest.js';
import { realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { readCapability, type MountCapability } from './capability.js';
import type { RpcHandlerFactory } from './rpc-handler.js';
import { required, requiredId } from './validation.js';

const CAPABILITIES: NodeServiceCapability[] = [
  { rpc: { type: 'GET_VOLUME_STATS' } },
  { rpc: { type: 'VOLUME_CONDITION' } },
  // Every read-write publish gets its own overlay, so many writers on one node are safe.
  { rpc: { type: 'SINGLE_NODE_MULTI_WRITER' } },
];

/** What validation hands on: the canonical paths (the only form the core and the locks see) and the parsed capability. */
interface Checked {
  path: string;
  /** An unpublish of a recorded volume whose path the adapter now refuses (see recordedMoved). */
  moved?: boolean;
  /** Where the checked target's parent really is, read right at the check (see UnpublishOptions.parentAt). */
  parentAt?: string;
  staging?: string;
  capability?: MountCapability;
}

export interface NodeServiceDeps {
  /** The node's front door, over the same adapter (it reads the volume contexts and decides staging). */
  volumes: NodeVolumes;
  /** Checks the paths of each call (the edge's job: it reads the file system) and says what to advertise. */
  adapter: OrchestratorAdapter;
}

/**
 * A stats path the adapter refuses is one where no volume can be published: CSI's answer
 * is NOT_FOUND (csi-sanity sends a relative path and expects it), with the reason kept.
 * Stats only read, so nothing else changes; publish and unpublish keep INVALID_ARGUMENT.
 */
function statsPath(adapter: OrchestratorAdapter, path: string): string {
  try {
    return adapter.checkTargetPath(path);
  } catch (error) {
    if (isNixmountError(error) && (error.kind === 'InvalidArgument' || error.kind === 'FailedPrecondition')) {
      throw new NotFoundError(`no volume is published at that volume_path: ${error.message}`);
    }
    throw error;
  }
}

/**
 * An unpublish path the adapter refuses (it now goes through a symlink) where this very
 * volume is recorded: the path was checked when it was published and something on it was
 * swapped since. Refusing it for ever would leave the mount, and kubelet retrying, for
 * ever; the core unmounts the recorded mount without walking the path. A path through a
 * symlink with no record goes to the core too: the retry of such an unpublish whose answer
 * was lost, or the unpublish of a publish the swap refused, is OK when nothing of
 * nixmount's can be there (see VolumePublisher.unpublishMoved). Any other refused path
 * with no record stays refused.
 */
function recordedMoved(volumes: NodeVolumes, volumeId: string, path: string, error: unknown): string | undefined {
  if (!isNixmountError(error) || error.kind !== 'InvalidArgument' || !path.startsWith('/')) return undefined;
  // Records are keyed on the canonical form; a path with dot segments never had one.
  const canonical = `/${path.split('/').filter((part) => part !== '').join('/')}`;
  // A symlink refusal comes after the path was found canonical, so `canonical` is the path as sent.
  return volumes.isRecorded(volumeId, canonical) || error instanceof PathThroughSymlinkError ? canonical : undefined;
}

export function nodeService(rpc: RpcHandlerFactory, deps: NodeServiceDeps): NodeHandlers {
  const { volumes, adapter } = deps;
  const capabilities: NodeServiceCapability[] = adapter.supportsStaging
    ? [{ rpc: { type: 'STAGE_UNSTAGE_VOLUME' } }, ...CAPABILITIES]
    : CAPABILITIES;

  return {
    NodeGetInfo: rpc.unary({
      method: 'NodeGetInfo',
      handle: async () => {
        const identity = adapter.nodeIdentity();
        const hasTopology = Object.keys(identity.topology).length > 0;
        return {
          node_id: identity.nodeId,
          max_volumes_per_node: String(identity.maxVolumesPerNode),
          accessible_topology: hasTopology ? { segments: identity.topology } : null,
        };
      },
    }),
    NodeGetCapabilities: rpc.unary({ method: 'NodeGetCapabilities', handle: async () => ({ capabilities }) }),
    NodePublishVolume: rpc.unary<NodePublishVolumeRequest__Output, object, Checked>({
      method: 'NodePublishVolume',
      describe: (r) => ({ volumeId: r.volume_id, target: r.target_path, staging: r.staging_target_path || undefined, readonly: r.readonly }),
      validate: (r) => {
        requiredId(r.volume_id, 'volume_id');
        required(r.target_path, 'target_path');
        const capability = readCapability(r.volume_capability);
        assertContextBounds(r.volume_context);
        const path = adapter.checkTargetPath(r.target_path);
        if (r.staging_target_path && !adapter.supportsStaging) {
          // Ignoring it would publish as if unstaged while the orchestrator believes a stage it made holds the volume.
          throw new InvalidArgumentError(
            `staging_target_path: ${quote(r.staging_target_path)} was sent, but the ${adapter.name} adapter does not stage volumes (this plugin does not advertise STAGE_UNSTAGE_VOLUME); publish without one`,
          );
        }
        if (r.staging_target_path) return { path, capability, staging: adapter.checkStagingPath(r.staging_target_path) };
        return { path, capability };
      },
      // No lockKey: the node's front door takes the node's path locks (core/mount-claims), and reads the context.
      handle: async (r, log, checked) => {
        const capability = checked.capability!;
        await volumes.publish(
          {
            volumeId: r.volume_id,
            targetPath: checked.path,
            readonly: r.readonly,
            accessMode: capability.accessMode,
            mountFlags: capability.mountFlags,
            context: r.volume_context,
            ...(checked.staging ? { stagingPath: checked.staging } : {}),
          },
          log,
        );
        return {};
      },
    }),
    NodeUnpublishVolume: rpc.unary<NodeUnpublishVolumeRequest__Output, object, Checked>({
      method: 'NodeUnpublishVolume',
      describe: (r) => ({ volumeId: r.volume_id, target: r.target_path }),
      validate: (r) => {
        requiredId(r.volume_id, 'volume_id');
        required(r.target_path, 'target_path');
        try {
          const path = adapter.checkTargetPath(r.target_path);
          const parentAt = realParent(path);
          return { path, ...(parentAt ? { parentAt } : {}) };
        } catch (error) {
          const moved = recordedMoved(volumes, r.volume_id, r.target_path, error);
          if (moved === undefined) throw error;
          return { path: moved, moved: true };
        }
      },
      handle: async (r, log, checked) => {
        if (checked.moved) await volumes.unpublishMoved(r.volume_id, checked.path, log);
        else await volumes.unpublish(r.volume_id, checked.path, log, checked.parentAt ? { parentAt: checked.parentAt } : {});
        return {};
      },
    }),
    NodeGetVolumeStats: rpc.unary<NodeGetVolumeStatsRequest__Output, object, Checked>({
      method: 'NodeGetVolumeStats',
      describe: (r) => ({ volumeId: r.volume_id, path: r.volume_path }),
      validate: (r) => {
        requiredId(r.volume_id, 'volume_id');
        required(r.volume_path, 'volume_path');
        return { path: statsPath(adapter, r.volume_path) };
      },
      handle: async (r, _log, checked) => {
        const { usage, mounted } = await volumes.usage(r.volume_id, checked.path);
        return {
          usage: [
            { unit: 'BYTES', total: String(usage.bytesTotal), available: String(usage.bytesAvailable), used: String(usage.bytesUsed) },
            { unit: 'INODES', total: String(usage.inodesTotal), available: String(usage.inodesFree), used: String(usage.inodesUsed) },
          ],
          volume_condition: mounted
            ? { abnormal: false, message: 'mounted' }
            : { abnormal: true, message: `nothing is mounted at ${quote(checked.path)}; the next publish mounts it again` },
        };
      },
    }),
    NodeStageVolume: adapter.supportsStaging
      ? rpc.unary<NodeStageVolumeRequest__Output, object, Checked>({
          method: 'NodeStageVolume',
          describe: (r) => ({ volumeId: r.volume_id, staging: r.staging_target_path }),
          validate: (r) => {
            requiredId(r.volume_id, 'volume_id');
            required(r.staging_target_path, 'staging_target_path');
            const capability = readCapability(r.volume_capability);
            assertContextBounds(r.volume_context);
            return { path: adapter.checkStagingPath(r.staging_target_path), capability };
          },
          handle: async (r, log, checked) => {
            await volumes.stage({ volumeId: r.volume_id, stagingPath: checked.path, accessMode: checked.capability!.accessMode, context: r.volume_context }, log);
            return {};
          },
        })
      : rpc.unimplemented('NodeStageVolume'),
    NodeUnstageVolume: adapter.supportsStaging
      ? rpc.unary<NodeUnstageVolumeRequest__Output, object, Checked>({
          method: 'NodeUnstageVolume',
          describe: (r) => ({ volumeId: r.volume_id, staging: r.staging_target_path }),
          validate: (r) => {
            requiredId(r.volume_id, 'volume_id');
            required(r.staging_target_path, 'staging_target_path');
            const path = adapter.checkStagingPath(r.staging_target_path);
            const parentAt = realParent(path);
            return { path, ...(parentAt ? { parentAt } : {}) };
          },
          handle: async (r, log, checked) => {
            await volumes.unstage(r.volume_id, checked.path, log, checked.parentAt);
            return {};
          },
        })
      : rpc.unimplemented('NodeUnstageVolume'),
    NodeExpandVolume: rpc.unimplemented('NodeExpandVolume'),
  };
}

/**
 * The real path of a just-checked target's parent (the adapter proved it has no symlink
 * below the orchestrator's directory), read in the same synchronous step as the check:
 * the unpublish later holds the parent and proves it is still this directory, so a swap
 * at any moment after the check is caught. Undefined when there is no parent (nothing to unmount).
 */
function realParent(path: string): string | undefined {
  try {
    return realpathSync(dirname(path));
  } catch {
    return undefined;
  }
}
