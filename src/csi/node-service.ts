import { FailedPreconditionError, UnimplementedError } from '../core/errors.js';
import type { OrchestratorAdapter } from '../core/orchestrator-adapter.js';
import type { VolumePublisher } from '../core/volume-publisher.js';
import type { VolumeStager } from '../core/volume-stager.js';
import type { NodeHandlers } from '../gen/csi/v1/Node.js';
import type { NodeServiceCapability } from '../gen/csi/v1/NodeServiceCapability.js';
import type { NodeGetVolumeStatsRequest__Output } from '../gen/csi/v1/NodeGetVolumeStatsRequest.js';
import type { NodePublishVolumeRequest__Output } from '../gen/csi/v1/NodePublishVolumeRequest.js';
import type { NodeUnpublishVolumeRequest__Output } from '../gen/csi/v1/NodeUnpublishVolumeRequest.js';
import type { NodeStageVolumeRequest__Output } from '../gen/csi/v1/NodeStageVolumeRequest.js';
import type { NodeUnstageVolumeRequest__Output } from '../gen/csi/v1/NodeUnstageVolumeRequest.js';
import { readCapability } from './capability.js';
import type { RpcHandlerFactory } from './rpc-handler.js';
import { required } from './validation.js';

const CAPABILITIES: NodeServiceCapability[] = [
  { rpc: { type: 'GET_VOLUME_STATS' } },
  { rpc: { type: 'VOLUME_CONDITION' } },
  // Every read-write publish gets its own overlay, so many writers on one node are safe.
  { rpc: { type: 'SINGLE_NODE_MULTI_WRITER' } },
];

/** Volume-scoped lock key: Nomad reuses one volume id for all allocations, so the target is part of it. */
function volumeLock(volumeId: string, path: string): string {
  return `${volumeId}\0${path}`;
}

export function nodeService(rpc: RpcHandlerFactory, publisher: VolumePublisher, adapter: OrchestratorAdapter, stager: VolumeStager): NodeHandlers {
  const capabilities: NodeServiceCapability[] = adapter.supportsStaging
    ? [{ rpc: { type: 'STAGE_UNSTAGE_VOLUME' } }, ...CAPABILITIES]
    : CAPABILITIES;

  const unimplemented = (method: string) =>
    rpc.unary({ method, handle: async () => { throw new UnimplementedError(`${method} is not offered by this plugin`); } });

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
    NodePublishVolume: rpc.unary<NodePublishVolumeRequest__Output, object>({
      method: 'NodePublishVolume',
      describe: (r) => ({ volumeId: r.volume_id, target: r.target_path, staging: r.staging_target_path || undefined, readonly: r.readonly }),
      validate: (r) => {
        required(r.volume_id, 'volume_id');
        required(r.target_path, 'target_path');
        readCapability(r.volume_capability);
        adapter.checkTargetPath(r.target_path);
        if (adapter.supportsStaging && r.staging_target_path) adapter.checkStagingPath(r.staging_target_path);
      },
      lockKey: (r) => volumeLock(r.volume_id, r.target_path),
      handle: async (r, log) => {
        const capability = readCapability(r.volume_capability);
        const context = adapter.parseVolumeContext(r.volume_context);
        if (adapter.supportsStaging && !r.staging_target_path) {
          throw new FailedPreconditionError('staging_target_path is required: this plugin advertises STAGE_UNSTAGE_VOLUME');
        }
        const staged = adapter.supportsStaging ? stager.stagedView(r.volume_id, r.staging_target_path) : undefined;
        await publisher.publish(
          {
            volumeId: r.volume_id,
            targetPath: r.target_path,
            readonly: r.readonly,
            accessMode: capability.accessMode,
            mountFlags: capability.mountFlags,
            spec: context.spec,
            ephemeral: context.ephemeral,
            ...(staged ? { staged } : {}),
          },
          log.child(context.workload),
        );
        return {};
      },
    }),
    NodeUnpublishVolume: rpc.unary<NodeUnpublishVolumeRequest__Output, object>({
      method: 'NodeUnpublishVolume',
      describe: (r) => ({ volumeId: r.volume_id, target: r.target_path }),
      validate: (r) => {
        required(r.volume_id, 'volume_id');
        required(r.target_path, 'target_path');
      },
      lockKey: (r) => volumeLock(r.volume_id, r.target_path),
      handle: async (r, log) => {
        await publisher.unpublish(r.volume_id, r.target_path, log);
        return {};
      },
    }),
    NodeGetVolumeStats: rpc.unary<NodeGetVolumeStatsRequest__Output, object>({
      method: 'NodeGetVolumeStats',
      describe: (r) => ({ volumeId: r.volume_id, path: r.volume_path }),
      validate: (r) => {
        required(r.volume_id, 'volume_id');
        required(r.volume_path, 'volume_path');
      },
      handle: async (r) => {
        const { usage, mounted } = await publisher.usage(r.volume_id, r.volume_path);
        return {
          usage: [
            { unit: 'BYTES', total: String(usage.bytesTotal), available: String(usage.bytesAvailable), used: String(usage.bytesUsed) },
            { unit: 'INODES', total: String(usage.inodesTotal), available: String(usage.inodesFree), used: String(usage.inodesUsed) },
          ],
          volume_condition: mounted
            ? { abnormal: false, message: 'mounted' }
            : { abnormal: true, message: `nothing is mounted at ${r.volume_path}; the next publish mounts it again` },
        };
      },
    }),
    NodeStageVolume: adapter.supportsStaging
      ? rpc.unary<NodeStageVolumeRequest__Output, object>({
          method: 'NodeStageVolume',
          describe: (r) => ({ volumeId: r.volume_id, staging: r.staging_target_path }),
          validate: (r) => {
            required(r.volume_id, 'volume_id');
            required(r.staging_target_path, 'staging_target_path');
            readCapability(r.volume_capability);
            adapter.checkStagingPath(r.staging_target_path);
          },
          lockKey: (r) => volumeLock(r.volume_id, r.staging_target_path),
          handle: async (r, log) => {
            const capability = readCapability(r.volume_capability);
            const context = adapter.parseVolumeContext(r.volume_context);
            await stager.stage(
              { volumeId: r.volume_id, stagingPath: r.staging_target_path, accessMode: capability.accessMode, spec: context.spec },
              log.child(context.workload),
            );
            return {};
          },
        })
      : unimplemented('NodeStageVolume'),
    NodeUnstageVolume: adapter.supportsStaging
      ? rpc.unary<NodeUnstageVolumeRequest__Output, object>({
          method: 'NodeUnstageVolume',
          describe: (r) => ({ volumeId: r.volume_id, staging: r.staging_target_path }),
          validate: (r) => {
            required(r.volume_id, 'volume_id');
            required(r.staging_target_path, 'staging_target_path');
          },
          lockKey: (r) => volumeLock(r.volume_id, r.staging_target_path),
          handle: async (r, log) => {
            await stager.unstage(r.volume_id, r.staging_target_path, log);
            return {};
          },
        })
      : unimplemented('NodeUnstageVolume'),
    NodeExpandVolume: unimplemented('NodeExpandVolume'),
  };
}
