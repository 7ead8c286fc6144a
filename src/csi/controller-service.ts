import { InvalidArgumentError, UnimplementedError, isNixmountError } from '../core/errors.js';
import { quote } from '../core/quote.js';
import type { ProvisionedVolume } from '../core/controller/provisioned-volume.js';
import { volumeIdFor } from '../core/controller/provisioned-volume.js';
import type { VolumeController } from '../core/controller/volume-controller.js';
import type { ControllerHandlers } from '../gen/csi/v1/Controller.js';
import type { ControllerGetVolumeRequest__Output } from '../gen/csi/v1/ControllerGetVolumeRequest.js';
import type { ControllerServiceCapability } from '../gen/csi/v1/ControllerServiceCapability.js';
import type { CreateVolumeRequest__Output } from '../gen/csi/v1/CreateVolumeRequest.js';
import type { DeleteVolumeRequest__Output } from '../gen/csi/v1/DeleteVolumeRequest.js';
import type { ListVolumesRequest__Output } from '../gen/csi/v1/ListVolumesRequest.js';
import type { ValidateVolumeCapabilitiesRequest__Output } from '../gen/csi/v1/ValidateVolumeCapabilitiesRequest.js';
import type { Volume } from '../gen/csi/v1/Volume.js';
import type { VolumeCapability__Output } from '../gen/csi/v1/VolumeCapability.js';
import { readCapability } from './capability.js';
import type { RpcHandlerFactory } from './rpc-handler.js';
import { assertContextBounds } from '../core/volume-context.js';
import { requiredId } from './validation.js';

// Only what is really implemented: no attach step (nothing to attach), no snapshots,
// clones, expansion or capacity (a Nix volume has no size of its own).
const CAPABILITIES: ControllerServiceCapability[] = [
  { rpc: { type: 'CREATE_DELETE_VOLUME' } },
  { rpc: { type: 'GET_VOLUME' } },
  { rpc: { type: 'LIST_VOLUMES' } },
  // Every read-write publish gets its own overlay, so the single-node writer modes are real.
  { rpc: { type: 'SINGLE_NODE_MULTI_WRITER' } },
];

/** Create (by name) and delete (by id) of one volume never run together: the id derives from the name. */
function controllerLock(volumeId: string): string {
  return `controller\0${volumeId}`;
}

function readCapabilities(capabilities: VolumeCapability__Output[]): void {
  if (capabilities.length === 0) throw new InvalidArgumentError('volume_capabilities is required');
  capabilities.forEach((capability, index) => readCapability(capability, `volume_capabilities[${index}]`));
}

function bytes(text: string | undefined, field: string): bigint {
  if (text === undefined || text === '') return 0n;
  try {
    return BigInt(text);
  } catch {
    throw new InvalidArgumentError(`${field}: ${quote(text)} is not an integer`);
  }
}

/** Nix volumes have no size: 0 is CSI's "unknown", the honest answer whatever range was asked for. */
function toCsiVolume(volume: ProvisionedVolume): Volume {
  return { volume_id: volume.volumeId, capacity_bytes: '0', volume_context: volume.parameters, accessible_topology: [] };
}

export function controllerService(rpc: RpcHandlerFactory, controller: VolumeController): ControllerHandlers {
  const unimplemented = (method: string) =>
    rpc.unary({ method, handle: async () => { throw new UnimplementedError(`${method} is not offered by this plugin`); } });

  return {
    ControllerGetCapabilities: rpc.unary({ method: 'ControllerGetCapabilities', handle: async () => ({ capabilities: CAPABILITIES }) }),
    CreateVolume: rpc.unary<CreateVolumeRequest__Output, object>({
      method: 'CreateVolume',
      describe: (r) => ({ name: r.name, parameters: r.parameters }),
      validate: (r) => {
        requiredId(r.name, 'name');
        assertContextBounds(r.parameters, 'parameters');
        readCapabilities(r.volume_capabilities);
        if (r.volume_content_source) {
          throw new InvalidArgumentError('volume_content_source: nixmount volumes are filled from Nix, not from snapshots or other volumes');
        }
        if (Object.keys(r.mutable_parameters).length > 0) {
          throw new InvalidArgumentError('mutable_parameters: this plugin does not offer MODIFY_VOLUME');
        }
      },
      lockKey: (r) => controllerLock(volumeIdFor(r.name)),
      handle: async (r, log) => {
        const { volume } = await controller.create(
          {
            name: r.name,
            parameters: r.parameters,
            capacity: {
              requiredBytes: bytes(r.capacity_range?.required_bytes, 'capacity_range.required_bytes'),
              limitBytes: bytes(r.capacity_range?.limit_bytes, 'capacity_range.limit_bytes'),
            },
          },
          log,
        );
        return { volume: toCsiVolume(volume) };
      },
    }),
    DeleteVolume: rpc.unary<DeleteVolumeRequest__Output, object>({
      method: 'DeleteVolume',
      describe: (r) => ({ volumeId: r.volume_id }),
      validate: (r) => void requiredId(r.volume_id, 'volume_id'),
      lockKey: (r) => controllerLock(r.volume_id),
      handle: async (r, log) => {
        await controller.delete(r.volume_id, log);
        return {};
      },
    }),
    ValidateVolumeCapabilities: rpc.unary<ValidateVolumeCapabilitiesRequest__Output, object>({
      method: 'ValidateVolumeCapabilities',
      describe: (r) => ({ volumeId: r.volume_id }),
      validate: (r) => {
        requiredId(r.volume_id, 'volume_id');
        assertContextBounds(r.volume_context);
        assertContextBounds(r.parameters, 'parameters');
        if (r.volume_capabilities.length === 0) throw new InvalidArgumentError('volume_capabilities is required');
      },
      handle: async (r) => {
        const { mismatch } = controller.validate(r.volume_id, r.volume_context, r.parameters);
        if (mismatch) return { confirmed: null, message: mismatch };
        try {
          readCapabilities(r.volume_capabilities);
        } catch (error) {
          // An unsupported capability (block access, an fs type…) is "not confirmed", not an error.
          if (isNixmountError(error) && error.kind === 'InvalidArgument') return { confirmed: null, message: error.message };
          throw error;
        }
        return {
          confirmed: { volume_context: r.volume_context, volume_capabilities: r.volume_capabilities, parameters: r.parameters },
          message: '',
        };
      },
    }),
    ListVolumes: rpc.unary<ListVolumesRequest__Output, object>({
      method: 'ListVolumes',
      validate: (r) => {
        if (r.max_entries < 0) throw new InvalidArgumentError(`max_entries: ${r.max_entries} is negative`);
      },
      handle: async (r) => {
        const page = controller.list(r.max_entries, r.starting_token);
        return { entries: page.volumes.map((volume) => ({ volume: toCsiVolume(volume) })), next_token: page.nextToken };
      },
    }),
    ControllerGetVolume: rpc.unary<ControllerGetVolumeRequest__Output, object>({
      method: 'ControllerGetVolume',
      describe: (r) => ({ volumeId: r.volume_id }),
      validate: (r) => void requiredId(r.volume_id, 'volume_id'),
      // Nothing is attached anywhere by a controller, so there are no published nodes to report.
      handle: async (r) => ({ volume: toCsiVolume(controller.get(r.volume_id)), status: { published_node_ids: [] } }),
    }),
    ControllerPublishVolume: unimplemented('ControllerPublishVolume'),
    ControllerUnpublishVolume: unimplemented('ControllerUnpublishVolume'),
    GetCapacity: unimplemented('GetCapacity'),
    CreateSnapshot: unimplemented('CreateSnapshot'),
    DeleteSnapshot: unimplemented('DeleteSnapshot'),
    ListSnapshots: unimplemented('ListSnapshots'),
    ControllerExpandVolume: unimplemented('ControllerExpandVolume'),
    ControllerModifyVolume: unimplemented('ControllerModifyVolume'),
  };
}
