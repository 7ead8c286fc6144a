import { blocks, parseHcl, stringAttr, type HclBody } from './hcl.js';

export interface VolumeCapabilitySpec {
  accessMode?: string;
  attachmentMode?: string;
}

/** A `nomad volume register` spec file, as far as nixmount cares. */
export interface NomadVolumeSpec {
  file: string;
  id?: string;
  name?: string;
  type?: string;
  pluginId?: string;
  externalId?: string;
  capabilities: VolumeCapabilitySpec[];
  mountOptions: { fsType?: string; mountFlags: string[] };
  /** The `context` block; Nomad sends it verbatim as the CSI volume_context. */
  context: Record<string, string>;
  /** The `parameters` block (`nomad volume create`): nixmount's controller turns it into the context. */
  parameters: Record<string, string>;
  secrets: Record<string, string>;
  /** Keys of `context` or `parameters` whose values are not strings (Nomad would refuse them). */
  nonStringContext: string[];
}

function stringMap(body: HclBody | undefined): { values: Record<string, string>; others: string[] } {
  const values: Record<string, string> = {};
  const others: string[] = [];
  for (const [key, value] of Object.entries(body ?? {})) {
    if (typeof value === 'string') values[key] = value;
    else others.push(key);
  }
  return { values, others };
}

export function readVolumeSpec(text: string, file: string): NomadVolumeSpec {
  return volumeSpecFromBody(parseHcl(text, file), file);
}

export function volumeSpecFromBody(body: HclBody, file: string): NomadVolumeSpec {
  const context = stringMap(blocks(body, 'context')[0]);
  const parameters = stringMap(blocks(body, 'parameters')[0]);
  const mountOptions = blocks(body, 'mount_options')[0];
  const flags = mountOptions?.mount_flags;
  return {
    file,
    id: stringAttr(body, 'id'),
    name: stringAttr(body, 'name'),
    type: stringAttr(body, 'type'),
    pluginId: stringAttr(body, 'plugin_id'),
    externalId: stringAttr(body, 'external_id'),
    capabilities: blocks(body, 'capability').map((c) => ({
      accessMode: stringAttr(c, 'access_mode'),
      attachmentMode: stringAttr(c, 'attachment_mode'),
    })),
    mountOptions: {
      fsType: mountOptions ? stringAttr(mountOptions, 'fs_type') : undefined,
      mountFlags: Array.isArray(flags) ? flags.filter((f): f is string => typeof f === 'string') : [],
    },
    context: context.values,
    parameters: parameters.values,
    secrets: stringMap(blocks(body, 'secrets')[0]).values,
    nonStringContext: [...context.others, ...parameters.others],
  };
}
