import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { readJobspecs, type JobGroup, type Jobspec } from '../../../src/adapters/nomad/tooling/jobspec.js';
import { readVolumeSpec, type NomadVolumeSpec } from '../../../src/adapters/nomad/tooling/volume-spec-file.js';
import type { NomadClaim } from '../../helpers/nomad-harness.js';

/** The repository's jobs/ directory (tests run from dist/test/…). */
export const JOBS_DIR = fileURLToPath(new URL('../../../../jobs/', import.meta.url));

/**
 * A volume spec from jobs/, parsed with hcl2-parser. Real store paths differ per
 * machine, so `paths` (when given) replaces the spec's `paths` context value with
 * the test fixture's root; everything else is the shipped file.
 */
export async function shippedVolume(file: string, paths?: string): Promise<NomadVolumeSpec> {
  const spec = readVolumeSpec(await readFile(`${JOBS_DIR}${file}`, 'utf8'), `jobs/${file}`);
  if (paths !== undefined) {
    if (spec.context.paths === undefined) throw new Error(`jobs/${file} has no context paths to replace`);
    spec.context = { ...spec.context, paths };
  }
  return spec;
}

export async function shippedJob(file: string): Promise<Jobspec> {
  const [job] = readJobspecs(await readFile(`${JOBS_DIR}${file}`, 'utf8'), `jobs/${file}`);
  if (!job) throw new Error(`jobs/${file} has no job`);
  return job;
}

export function group(job: Jobspec, name: string): JobGroup {
  const found = job.groups.find((g) => g.name === name);
  if (!found) throw new Error(`${job.file} has no group ${name}`);
  return found;
}

/** The claim of a group's (single) CSI volume block, as the Nomad client would make it. */
export function csiClaim(g: JobGroup): { source: string; perAlloc: boolean; claim: NomadClaim } {
  const volume = g.volumes.find((v) => v.type === 'csi');
  if (!volume?.source || !volume.accessMode || !volume.attachmentMode) throw new Error(`group ${g.name} has no complete csi volume`);
  return { source: volume.source, perAlloc: volume.perAlloc, claim: { readOnly: volume.readOnly, accessMode: volume.accessMode, attachmentMode: volume.attachmentMode } };
}

let counter = 0;
/** A Nomad-style allocation id (a UUID), unique within the run. */
export function allocId(): string {
  counter++;
  return `${(0x1000_0000 + counter).toString(16)}-aaaa-4bbb-8ccc-${counter.toString(16).padStart(12, '0')}`;
}
