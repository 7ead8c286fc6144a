import { readFile } from 'node:fs/promises';

/** Where the node's host-volume settings live unless the plugin wrapper names another file. */
export const DEFAULT_HOST_VOLUME_CONFIG = '/etc/nixmount/host-volume.json';

/**
 * Reads the node-level settings of the host volume plugin: a JSON object whose keys
 * are the long options of `nixmount serve`/`publish` (e.g. "state-dir", "store",
 * "allow-sources", "substituters", "view-idle") with string values. Nomad passes a
 * plugin no configuration of its own, and the volume's `parameters` are written by
 * volume authors, so the source policy must come from a file only the node's
 * administrator writes. A missing file at the default location means the defaults;
 * a file named explicitly must exist.
 */
export async function readHostVolumeConfig(
  file: string | undefined,
  knownKeys: readonly string[],
): Promise<Record<string, string>> {
  const path = file ?? DEFAULT_HOST_VOLUME_CONFIG;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && file === undefined) return {};
    throw new Error(`cannot read the host volume config ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`the host volume config ${path} is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`the host volume config ${path} must be a JSON object of option names to strings`);
  }
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!knownKeys.includes(key)) throw new Error(`the host volume config ${path}: unknown key "${key}" (known: ${knownKeys.join(', ')})`);
    if (typeof value !== 'string') throw new Error(`the host volume config ${path}: "${key}" must be a string`);
    values[key] = value;
  }
  return values;
}
