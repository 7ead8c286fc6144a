import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';
import { CsiClient } from './csi-client.js';
import { nixEnv } from './nix.js';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** Runs the real `nixmount` CLI. */
export function nixmount(args: string[], options: { env?: Record<string, string> } = {}) {
  return execa('node', [CLI, ...args], { env: { ...nixEnv, ...options.env }, reject: false });
}

/** Starts `nixmount serve` as its own process and waits (bounded) until Probe answers ready. */
export async function startServeProcess(args: string[], socketPath: string): Promise<{ child: ResultPromise; client: CsiClient }> {
  const child = execa('node', [CLI, 'serve', ...args], { env: { ...nixEnv, NIXMOUNT_LOG_LEVEL: 'warn' }, reject: false });
  const client = new CsiClient(socketPath);
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const probe = await client.call('identity', 'Probe', {}, 1000);
      if (probe.ready?.value) return { child, client };
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  client.close();
  child.kill('SIGKILL');
  const result = await child;
  throw new Error(`nixmount serve did not become ready: ${result.stderr}`);
}
