import { readFile, writeFile } from 'node:fs/promises';
import { parseUserContext } from '../core/volume-context.js';
import { HclParseError } from '../adapters/nomad/tooling/hcl.js';
import { readJobspecs } from '../adapters/nomad/tooling/jobspec.js';
import { checkJobspec, checkVolumeSpec, formatProblem, type Problem } from '../adapters/nomad/tooling/nomad-check.js';
import { readVolumeSpec } from '../adapters/nomad/tooling/volume-spec-file.js';
import { renderVolumeSpec } from '../adapters/nomad/tooling/volume-spec-render.js';
import type { NomadCheckValues, NomadVolumeValues } from '../settings/command-values.js';
import { UsageError } from '../settings/option.js';

/** Exit status of `nomad check` when it found problems (2 is usage errors). */
export const PROBLEMS_EXIT_CODE = 1;

export async function volume(values: NomadVolumeValues): Promise<number> {
  const sources = (['paths', 'expression', 'flake'] as const).filter((key) => values[key] !== undefined);
  if (sources.length !== 1) throw new UsageError('give exactly one of --paths, --expression, --flake');
  const context: Record<string, string> =
    values.paths !== undefined ? { paths: values.paths } : values.expression !== undefined ? { expression: values.expression } : { flakeRef: values.flake! };
  parseUserContext(context); // refuse to write a spec the plugin would refuse
  const text = renderVolumeSpec({ id: values.id, name: values.name, pluginId: values.pluginId, accessModes: values.accessMode, context });
  if (values.output) {
    await writeFile(values.output, text);
    console.error(`wrote ${values.output}; register it with: nomad volume register ${values.output}`);
  } else {
    process.stdout.write(text);
  }
  return 0;
}

export async function check(values: NomadCheckValues, [jobFile, ...volumeFiles]: string[]): Promise<number> {
  if (!jobFile) throw new UsageError('needs a jobspec file (and optionally volume spec files)');
  const { pluginId } = values;
  const problems: Problem[] = [];
  const parseErrors: string[] = [];
  const specs = [];
  for (const file of volumeFiles) {
    try {
      const spec = readVolumeSpec(await readFile(file, 'utf8'), file);
      specs.push(spec);
      problems.push(...checkVolumeSpec(spec, pluginId));
    } catch (error) {
      if (!(error instanceof HclParseError)) throw error;
      parseErrors.push(error.message);
    }
  }
  try {
    const jobs = readJobspecs(await readFile(jobFile, 'utf8'), jobFile);
    if (jobs.length === 0) parseErrors.push(`${jobFile}: no job block found`);
    for (const job of jobs) problems.push(...checkJobspec(job, specs, pluginId));
  } catch (error) {
    if (!(error instanceof HclParseError)) throw error;
    parseErrors.push(error.message);
  }
  for (const line of [...parseErrors, ...problems.map(formatProblem)]) console.log(line);
  const count = parseErrors.length + problems.length;
  if (count === 0) {
    console.log(`${jobFile}: no problems found${specs.length > 0 ? ` (checked against ${specs.length} volume spec(s))` : ''}`);
    return 0;
  }
  console.log(`${count} problem(s)`);
  return PROBLEMS_EXIT_CODE;
}
