import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseUserContext } from '../core/volume-context.js';
import { HclParseError } from '../adapters/nomad/hcl.js';
import { readJobspecs } from '../adapters/nomad/jobspec.js';
import { checkJobspec, checkVolumeSpec, DEFAULT_PLUGIN_ID, formatProblem, type Problem } from '../adapters/nomad/nomad-check.js';
import { NOMAD_ACCESS_MODES } from '../adapters/nomad/nomad-paths.js';
import { readVolumeSpec } from '../adapters/nomad/volume-spec-file.js';
import { renderVolumeSpec } from '../adapters/nomad/volume-spec-render.js';

const USAGE = `usage: nixmount nomad <command>

  volume   write a volume spec for \`nomad volume register\`
           --id ID (--paths "P…" | --expression TEXT | --flake REF) [--name N]
           [--access-mode MODE]… [--plugin-id nixmount] [--output FILE]
  check    report problems in a jobspec's nixmount volumes before submitting it
           nixmount nomad check JOB.nomad.hcl [VOLUME.hcl…] [--plugin-id nixmount]`;

/** Exit status of `nomad check` when it found problems (2 is usage errors). */
export const PROBLEMS_EXIT_CODE = 1;

async function volume(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      id: { type: 'string' },
      name: { type: 'string' },
      paths: { type: 'string' },
      expression: { type: 'string' },
      flake: { type: 'string' },
      'access-mode': { type: 'string', multiple: true },
      'plugin-id': { type: 'string' },
      output: { type: 'string', short: 'o' },
    },
    strict: true,
  });
  if (!values.id) throw new Error('--id is required');
  const sources = (['paths', 'expression', 'flake'] as const).filter((key) => values[key] !== undefined);
  if (sources.length !== 1) throw new Error('give exactly one of --paths, --expression, --flake');
  const context: Record<string, string> =
    values.paths !== undefined ? { paths: values.paths } : values.expression !== undefined ? { expression: values.expression } : { flakeRef: values.flake! };
  parseUserContext(context); // refuse to write a spec the plugin would refuse
  const accessModes = values['access-mode'] ?? ['multi-node-reader-only', 'single-node-reader-only'];
  for (const mode of accessModes) {
    if (!(NOMAD_ACCESS_MODES as readonly string[]).includes(mode)) {
      throw new Error(`--access-mode: "${mode}" is not one of ${NOMAD_ACCESS_MODES.join(', ')}`);
    }
  }
  const text = renderVolumeSpec({ id: values.id, name: values.name, pluginId: values['plugin-id'] ?? DEFAULT_PLUGIN_ID, accessModes, context });
  if (values.output) {
    await writeFile(values.output, text);
    console.error(`wrote ${values.output}; register it with: nomad volume register ${values.output}`);
  } else {
    process.stdout.write(text);
  }
  return 0;
}

async function check(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { 'plugin-id': { type: 'string' } }, allowPositionals: true, strict: true });
  const [jobFile, ...volumeFiles] = positionals;
  if (!jobFile) throw new Error('nixmount nomad check needs a jobspec file (and optionally volume spec files)');
  const pluginId = values['plugin-id'] ?? DEFAULT_PLUGIN_ID;
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

export async function nomad(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const run = command === 'volume' ? volume : command === 'check' ? check : undefined;
  if (!run) {
    console.error(USAGE);
    process.exitCode = command && command !== 'help' && command !== '--help' ? 2 : 0;
    return;
  }
  process.exitCode = await run(rest);
}
