import { parseUserContext } from '../../../core/volume-context.js';
import { READ_ONLY_PARAMETER } from '../../nomad-host/host-volume-request.js';
import type { JobVolume } from './jobspec.js';
import type { NomadVolumeSpec } from './volume-spec-file.js';

/** Access modes Nomad accepts for dynamic host volumes (one node each, by nature). */
export const HOST_ACCESS_MODES = ['single-node-reader-only', 'single-node-writer', 'single-node-single-writer', 'single-node-multi-writer'] as const;

const READER_ONLY = 'single-node-reader-only';

/** A nixmount host volume is read-only unless its parameters ask for an overlay. */
export function hostVolumeReadOnly(spec: NomadVolumeSpec): boolean {
  return spec.parameters[READ_ONLY_PARAMETER] !== 'false';
}

/** Problems in a `type = "host"` spec for nixmount's host volume plugin (`nomad volume create`). */
export function checkHostVolumeSpec(spec: NomadVolumeSpec): string[] {
  const messages: string[] = [];
  if (!spec.name) messages.push('name is missing: jobs claim a host volume by its name');
  if (Object.keys(spec.context).length > 0) messages.push(`a context block: host volumes have none; put ${Object.keys(spec.context).join(', ')} in parameters`);
  if (spec.mountOptions.fsType || spec.mountOptions.mountFlags.length > 0) messages.push('mount_options: Nomad does not support them for host volumes, leave the block out');
  for (const key of spec.nonStringContext) messages.push(`parameters key "${key}" must be a string`);
  const readOnly = hostVolumeReadOnly(spec);
  const flag = spec.parameters[READ_ONLY_PARAMETER];
  if (flag !== undefined && flag !== 'true' && flag !== 'false') messages.push(`parameters ${READ_ONLY_PARAMETER} "${flag}" must be "true" (the default) or "false" (a writable overlay)`);
  const { [READ_ONLY_PARAMETER]: _, ...context } = spec.parameters;
  try {
    parseUserContext(context);
  } catch (error) {
    messages.push(`parameters: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (readOnly && spec.capabilities.length === 0) messages.push(`no capability block: state access_mode "${READER_ONLY}", since the volume is read-only`);
  for (const capability of spec.capabilities) {
    const mode = capability.accessMode;
    if (!mode) messages.push('a capability block has no access_mode');
    else if (!(HOST_ACCESS_MODES as readonly string[]).includes(mode)) messages.push(`capability access_mode "${mode}" is not a host volume access mode (${HOST_ACCESS_MODES.join(', ')})`);
    else if (readOnly && mode !== READER_ONLY) {
      messages.push(`capability access_mode "${mode}" lets jobs claim the volume writable, but it is read-only (writes fail with EROFS); use "${READER_ONLY}", or set parameters ${READ_ONLY_PARAMETER} = "false" for an overlay`);
    }
    if (capability.attachmentMode && capability.attachmentMode !== 'file-system') messages.push(`capability attachment_mode "${capability.attachmentMode}": nixmount mounts file systems only, use "file-system"`);
  }
  return messages;
}

/**
 * Problems in a jobspec `volume` block of `type = "host"` claiming one of the given
 * nixmount host volume specs by name. A source no given spec names may be a static
 * host volume or another plugin's, so it is not judged.
 */
export function checkHostVolumeClaim(volume: JobVolume, specs: readonly NomadVolumeSpec[], pluginId: string): string[] {
  const messages: string[] = [];
  if (!volume.source) return ['source is missing (the name of the host volume)'];
  const matching = specs.filter((spec) => spec.type === 'host' && spec.name === volume.source);
  const ours = matching.filter((spec) => spec.pluginId === pluginId);
  if (ours.length === 0 || ours.length < matching.length) return messages;
  if (volume.accessMode && !(HOST_ACCESS_MODES as readonly string[]).includes(volume.accessMode)) {
    messages.push(`access_mode "${volume.accessMode}" is not a host volume access mode (${HOST_ACCESS_MODES.join(', ')})`);
  }
  if (volume.attachmentMode && volume.attachmentMode !== 'file-system') messages.push(`attachment_mode "${volume.attachmentMode}": nixmount mounts file systems only`);
  for (const spec of ours) {
    if (hostVolumeReadOnly(spec) && !volume.readOnly) {
      messages.push(`host volume "${spec.name}" (${spec.file}) is read-only by construction; set read_only = true (writes would fail with EROFS)`);
    }
    const offered = spec.capabilities.some((c) => c.accessMode === volume.accessMode && (c.attachmentMode ?? 'file-system') === (volume.attachmentMode ?? 'file-system'));
    if (volume.accessMode && spec.capabilities.length > 0 && !offered) {
      messages.push(`host volume "${spec.name}" (${spec.file}) has no capability ${volume.accessMode}/${volume.attachmentMode ?? 'file-system'}`);
    }
  }
  return messages;
}
