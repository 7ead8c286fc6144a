import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { run } from './commands.js';
import { formatBytes } from './stats.js';

/** One line naming the machine a result came from. */
export async function describeMachine(): Promise<string> {
  const fs = (await run('findmnt', ['--noheadings', '--output', 'FSTYPE', '--target', '/nix/store']).catch(() => '?')).trim();
  const nix = (await run('nix', ['--version']).catch(() => '?')).trim();
  return [
    `${availableParallelism()} cpu (${cpus()[0]?.model.trim() ?? '?'})`,
    `${formatBytes(totalmem())} RAM`,
    `Linux ${release()}`,
    `/nix/store on ${fs}`,
    nix,
    `Node ${process.version}`,
  ].join(', ');
}
