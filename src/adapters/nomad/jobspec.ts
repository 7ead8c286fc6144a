import { blocks, labelledBlocks, parseHcl, stringAttr, type HclBody } from './hcl.js';

export interface JobVolume {
  name: string;
  type?: string;
  source?: string;
  readOnly: boolean;
  perAlloc: boolean;
  accessMode?: string;
  attachmentMode?: string;
}

export interface JobTask {
  name: string;
  volumeMounts: Array<{ volume?: string; destination?: string }>;
  config: HclBody;
}

export interface JobGroup {
  name: string;
  /** Nomad's default is 1. */
  count: number;
  volumes: JobVolume[];
  tasks: JobTask[];
}

export interface Jobspec {
  file: string;
  name: string;
  /** Nomad's default is "service". */
  type: string;
  groups: JobGroup[];
}

/** Reads every `job` block of a jobspec file (normally one). */
export function readJobspecs(text: string, file: string): Jobspec[] {
  return labelledBlocks(parseHcl(text, file), 'job').map(([name, job]) => ({
    file,
    name,
    type: stringAttr(job, 'type') ?? 'service',
    groups: labelledBlocks(job, 'group').map(([groupName, group]) => ({
      name: groupName,
      count: typeof group.count === 'number' ? group.count : 1,
      volumes: labelledBlocks(group, 'volume').map(([volumeName, volume]) => ({
        name: volumeName,
        type: stringAttr(volume, 'type'),
        source: stringAttr(volume, 'source'),
        readOnly: volume.read_only === true,
        perAlloc: volume.per_alloc === true,
        accessMode: stringAttr(volume, 'access_mode'),
        attachmentMode: stringAttr(volume, 'attachment_mode'),
      })),
      tasks: labelledBlocks(group, 'task').map(([taskName, task]) => ({
        name: taskName,
        volumeMounts: blocks(task, 'volume_mount').map((mount) => ({
          volume: stringAttr(mount, 'volume'),
          destination: stringAttr(mount, 'destination'),
        })),
        config: blocks(task, 'config')[0] ?? {},
      })),
    })),
  }));
}
