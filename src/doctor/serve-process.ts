import { readFile, readlink } from 'node:fs/promises';
import { ADAPTER_OPTIONS } from '../adapters/registry.js';
import { optionsOf, parseCommandLine } from '../settings/command-line.js';
import type { ServeValues } from '../settings/command-values.js';
import { PLUGIN_OPTIONS } from '../settings/plugin-options.js';

/** A process id that is not a running `nixmount serve`, or whose command line serve would refuse. */
export class ServeProcessError extends Error {}

/** The arguments after the `serve` command word, in a process's argv (`nixmount own-store … -- serve …` included). */
export function serveArguments(argv: readonly string[]): string[] | undefined {
  const at = argv.indexOf('serve');
  return at === -1 ? undefined : argv.slice(at + 1);
}

/** `KEY=VALUE\0…` of /proc/PID/environ. */
export function parseEnviron(text: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const entry of text.split('\0')) {
    const at = entry.indexOf('=');
    if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return env;
}

/**
 * The options the running serve `pid` was started with: its command line and its
 * environment, parsed by serve's own option table, so doctor judges exactly what that
 * process uses (the DaemonSet passes flags, the Nomad jobs variables).
 */
export async function serveValuesOf(pid: string): Promise<{ values: ServeValues; sameMountNamespace: boolean }> {
  if (!/^[1-9]\d*$/.test(pid)) throw new ServeProcessError(`--serve-pid: "${pid}" is not a process id`);
  let cmdline: string;
  let environ: string;
  try {
    [cmdline, environ] = await Promise.all([readFile(`/proc/${pid}/cmdline`, 'utf8'), readFile(`/proc/${pid}/environ`, 'utf8')]);
  } catch (error) {
    throw new ServeProcessError(`--serve-pid: cannot read process ${pid} (${(error as NodeJS.ErrnoException).code ?? String(error)}); is it running, in this PID namespace?`);
  }
  const argv = cmdline.split('\0').filter((arg, index, all) => arg !== '' || index < all.length - 1);
  const rest = serveArguments(argv);
  if (rest === undefined) throw new ServeProcessError(`--serve-pid: process ${pid} is not a nixmount serve (${argv.join(' ')})`);
  let parsed;
  try {
    parsed = parseCommandLine(optionsOf('serve', PLUGIN_OPTIONS, ADAPTER_OPTIONS), rest, parseEnviron(environ));
  } catch (error) {
    throw new ServeProcessError(`--serve-pid: process ${pid}'s serve command line does not parse: ${(error as Error).message}`);
  }
  const namespace = (who: string) => readlink(`/proc/${who}/ns/mnt`).catch(() => undefined);
  const [theirs, ours] = await Promise.all([namespace(pid), namespace('self')]);
  return { values: parsed.values as ServeValues, sameMountNamespace: theirs !== undefined && theirs === ours };
}
