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

export interface JobCsiPlugin {
  id?: string;
  type?: string;
  mountDir?: string;
  stagePublishBaseDir?: string;
}

export interface JobTask {
  name: string;
  driver?: string;
  volumeMounts: Array<{ volume?: string; destination?: string }>;
  config: HclBody;
  /** The task's csi_plugin block, when it serves a CSI plugin. */
  csiPlugin?: JobCsiPlugin;
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
        driver: stringAttr(task, 'driver'),
        csiPlugin: blocks(task, 'csi_plugin').map((plugin) => ({
          id: stringAttr(plugin, 'id'),
          type: stringAttr(plugin, 'type'),
          mountDir: stringAttr(plugin, 'mount_dir'),
          stagePublishBaseDir: stringAttr(plugin, 'stage_publish_base_dir'),
        }))[0],
        volumeMounts: blocks(task, 'volume_mount').map((mount) => ({
          volume: stringAttr(mount, 'volume'),
          destination: stringAttr(mount, 'destination'),
        })),
        config: blocks(task, 'config')[0] ?? {},
      })),
    })),
  }));
}
