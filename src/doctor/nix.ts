import { onPath } from '../platform/on-path.js';
import type { ProcessRunner } from '../platform/process-runner.js';
import { ok, problem, type Check } from './check.js';

const NAME = 'nix';
const TIMEOUT_MS = 10_000;
/** `nix-command` (show-derivation, store ping, copy), which every Nix call of nixmount uses, came with Nix 2.4. */
const MINIMUM = [2, 4] as const;

/** "nix (Nix) 2.8.0" → [2, 8]; undefined for a text that names no version. */
export function nixVersion(text: string): [number, number] | undefined {
  const match = /(\d+)\.(\d+)/.exec(text);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/** Nix and nix-store are on PATH, run, and are recent enough. */
export function nixCheck(runner: ProcessRunner): Check {
  return {
    name: NAME,
    timeoutMs: TIMEOUT_MS,
    async run() {
      const missing = [];
      for (const command of ['nix', 'nix-store']) if (onPath(command) === undefined) missing.push(command);
      if (missing.length > 0) {
        return problem(
          NAME,
          `${missing.join(' and ')} not found on PATH (${process.env.PATH ?? ''})`,
          'install Nix on the node (Debian: apt-get install nix-bin; the nixmount image has it) or put the directory holding nix and nix-store on PATH',
        );
      }
      const where = onPath('nix')!;
      const result = await runner.run('nix', ['--version'], { timeoutMs: TIMEOUT_MS - 1_000, allowFailure: true });
      const said = result.stdout.trim();
      const version = nixVersion(said);
      if (result.exitCode !== 0 || version === undefined) {
        return problem(NAME, `${where} --version failed (exit ${result.exitCode}): ${result.stderr.trim().split('\n').pop() ?? ''}`, 'reinstall Nix on the node');
      }
      const [major, minor] = version;
      if (major < MINIMUM[0] || (major === MINIMUM[0] && minor < MINIMUM[1])) {
        return problem(NAME, `${said} (${where}) is older than Nix ${MINIMUM.join('.')}, which nixmount needs (nix-command)`, `install Nix ${MINIMUM.join('.')} or later`);
      }
      return ok(NAME, `${said} (${where})`);
    },
  };
}
