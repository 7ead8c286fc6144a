import { execa } from 'execa';
import { NIXMOUNT_CLI } from '../../support/serve-process.js';
import { offlineNixEnv } from '../../support/nix-env.js';

export { startServeProcess } from '../../support/serve-process.js';
export const CLI = NIXMOUNT_CLI;

/** Runs the real `nixmount` CLI. */
export function nixmount(args: string[], options: { env?: Record<string, string> } = {}) {
  return execa('node', [CLI, ...args], { env: { ...offlineNixEnv, ...options.env }, reject: false });
}
