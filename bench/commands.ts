import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { OFFLINE_NIX_CONFIG } from '../support/nix-env.js';

const execFileAsync = promisify(execFile);

/** Nix as the bench uses it: no network caches, single-user root, no sandbox. */
export const BENCH_NIX_ENV = {
  ...process.env,
  // Nix asks getpwuid for the user name and falls back to $USER; on a shared node whose
  // /etc/passwd another job rewrites, getpwuid can briefly fail. The bench runs as root.
  USER: process.env.USER || 'root',
  NIX_CONFIG: OFFLINE_NIX_CONFIG,
};

/**
 * Runs a command with the lightest spawn Node has (no shell, no execa), so the
 * floors and the baseline are not slowed by the harness. Throws with stderr on failure.
 */
export async function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = BENCH_NIX_ENV): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, [...args], { env, maxBuffer: 256 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.slice(0, 4).join(' ')}… failed: ${(e.stderr ?? e.message).trim().slice(-500)}`);
  }
}
