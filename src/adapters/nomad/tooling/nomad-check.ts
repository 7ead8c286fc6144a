import { parseUserContext } from '../../../core/volume-context.js';
import type { JobGroup, Jobspec, JobVolume } from './jobspec.js';
import { NOMAD_ACCESS_MODES } from '../nomad-paths.js';
import { checkHostVolumeClaim, checkHostVolumeSpec } from './host-volume-check.js';
import { checkPluginTask } from './plugin-task-check.js';
import type { NomadVolumeSpec } from './volume-spec-file.js';

export const DEFAULT_PLUGIN_ID = 'nixmount';

export interface Problem {
  file: string;
  /** The block the problem is in, e.g. `job "app" group "web" volume "nix"`. */
  where: string;
  message: string;
}

export function formatProblem(problem: Problem): string {
  return `${problem.file}: ${problem.where}: ${problem.message}`;
}

const READER_ONLY = new Set(['single-node-reader-only', 'multi-node-reader-only']);
const SYSTEM_TYPES = new Set(['system', 'sysbatch']);

/** Problems in a volume spec meant for nixmount: Nomad would accept most of them, and the first publish would fail. */
export function checkVolumeSpec(spec: NomadVolumeSpec, pluginId = DEFAULT_PLUGIN_ID): Problem[] {
  const problems: Problem[] = [];
  const where = `volume "${spec.id ?? '(no id)'}"`;
  const add = (message: string) => problems.push({ file: spec.file, where, message });
  if (spec.pluginId !== pluginId) return problems; // another plugin's volume: not ours to judge
  if (spec.type === 'host') {
    // A dynamic host volume (nixmount's host volume plugin) is named, not registered by id.
    for (const message of checkHostVolumeSpec(spec)) problems.push({ file: spec.file, where: `host volume "${spec.name ?? '(no name)'}"`, message });
    return problems;
  }
  if (!spec.id) add('id is missing');
  if (spec.type !== 'csi') add(`type is ${spec.type === undefined ? 'missing' : `"${spec.type}"`}; it must be "csi" (or "host" for the host volume plugin)`);
  if (spec.capabilities.length === 0) add('no capability block: Nomad cannot claim a volume without an access and attachment mode');
  for (const capability of spec.capabilities) {
    if (!capability.accessMode) add('a capability block has no access_mode');
    else if (!(NOMAD_ACCESS_MODES as readonly string[]).includes(capability.accessMode)) add(`capability access_mode "${capability.accessMode}" is not a Nomad access mode`);
    if (!capability.attachmentMode) add('a capability block has no attachment_mode');
    else if (capability.attachmentMode !== 'file-system') add(`capability attachment_mode "${capability.attachmentMode}": nixmount mounts file systems only, use "file-system"`);
  }
  if (spec.mountOptions.fsType) add(`mount_options fs_type "${spec.mountOptions.fsType}": nixmount takes no fs_type, leave it out`);
  for (const key of spec.nonStringContext) add(`context/parameters key "${key}" must be a string`);
  // A registered volume names its closure in `context`; a created one in `parameters`,
  // which nixmount's controller checks and returns as the context.
  const created = Object.keys(spec.context).length === 0 && Object.keys(spec.parameters).length > 0;
  try {
    parseUserContext(created ? spec.parameters : spec.context);
  } catch (error) {
    add(`${created ? 'parameters' : 'context'}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return problems;
}

/**
 * Problems in a jobspec's CSI volume blocks and volume mounts, checked against
 * the volume specs given (when none are given, only what the jobspec alone shows).
 */
export function checkJobspec(job: Jobspec, specs: readonly NomadVolumeSpec[], pluginId = DEFAULT_PLUGIN_ID): Problem[] {
  const problems: Problem[] = [];
  for (const group of job.groups) {
    const groupWhere = `job "${job.name}" group "${group.name}"`;
    for (const volume of group.volumes) {
      if (volume.type === 'host') {
        for (const message of checkHostVolumeClaim(volume, specs, pluginId)) problems.push({ file: job.file, where: `${groupWhere} volume "${volume.name}"`, message });
        continue;
      }
      if (volume.type !== 'csi') continue;
      const where = `${groupWhere} volume "${volume.name}"`;
      for (const message of checkCsiVolume(job, group, volume, specs, pluginId)) problems.push({ file: job.file, where, message });
    }
    const names = new Set(group.volumes.map((v) => v.name));
    for (const task of group.tasks) {
      for (const message of checkPluginTask(task, pluginId)) problems.push({ file: job.file, where: `${groupWhere} task "${task.name}" csi_plugin`, message });
      for (const mount of task.volumeMounts) {
        const where = `${groupWhere} task "${task.name}" volume_mount`;
        if (!mount.volume) problems.push({ file: job.file, where, message: 'volume is missing' });
        else if (!names.has(mount.volume)) {
          const known = names.size > 0 ? ` (the group has: ${[...names].join(', ')})` : ' (the group has no volume blocks)';
          problems.push({ file: job.file, where, message: `names volume "${mount.volume}", which the group does not define${known}` });
        }
        if (!mount.destination) problems.push({ file: job.file, where, message: 'destination is missing (nixmount volumes belong at /nix)' });
      }
    }
  }
  return problems;
}

function checkCsiVolume(job: Jobspec, group: JobGroup, volume: JobVolume, specs: readonly NomadVolumeSpec[], pluginId: string): string[] {
  const messages: string[] = [];
  // per_alloc claims "<source>[<alloc index>]", one volume per allocation.
  const ids = volume.source === undefined ? [] : volume.perAlloc ? [...Array(group.count).keys()].map((i) => `${volume.source}[${i}]`) : [volume.source];
  const byId = new Map(specs.map((spec) => [spec.id, spec]));
  const found = ids.map((id) => byId.get(id)).filter((spec): spec is NomadVolumeSpec => spec !== undefined);
  if (found.some((spec) => spec.pluginId !== pluginId)) return messages; // another plugin's volume

  if (!volume.source) messages.push('source is missing');
  if (!volume.accessMode) messages.push('access_mode is missing (e.g. "multi-node-reader-only"); Nomad requires it for CSI volumes');
  if (!volume.attachmentMode) messages.push('attachment_mode is missing (use "file-system"); Nomad requires it for CSI volumes');
  if (volume.attachmentMode && volume.attachmentMode !== 'file-system') messages.push(`attachment_mode "${volume.attachmentMode}": nixmount mounts file systems only`);
  if (volume.accessMode && READER_ONLY.has(volume.accessMode) && !volume.readOnly) {
    messages.push(`access_mode "${volume.accessMode}" is reader-only, so the claim needs read_only = true`);
  }
  if (volume.accessMode?.startsWith('single-node-') && group.count > 1 && !volume.perAlloc) {
    messages.push(`access_mode "${volume.accessMode}" allows one claim, but the group has count = ${group.count}; set per_alloc = true and register one volume per allocation`);
  }
  if (volume.perAlloc && SYSTEM_TYPES.has(job.type)) {
    messages.push(`per_alloc is not allowed in a ${job.type} job (its allocations have no stable index)`);
  }
  if (specs.length > 0 && volume.source) {
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length > 0) messages.push(`source ${missing.map((id) => `"${id}"`).join(', ')}: no given volume spec defines ${missing.length > 1 ? 'them' : 'it'}`);
    for (const spec of found) {
      const offered = spec.capabilities.some((c) => c.accessMode === volume.accessMode && c.attachmentMode === volume.attachmentMode);
      if (volume.accessMode && volume.attachmentMode && !offered) {
        messages.push(`volume "${spec.id}" (${spec.file}) has no capability ${volume.accessMode}/${volume.attachmentMode}`);
      }
    }
  }
  return messages;
}
