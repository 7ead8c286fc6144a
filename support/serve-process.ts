import { execa, type Options, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';
import { CsiClient } from '../src/csi/csi-client.js';
import { offlineNixEnv } from './nix-env.js';

/** The built `nixmount` command line. */
export const NIXMOUNT_CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

const READY_TRIES = 100;
const READY_PAUSE_MS = 100;

export interface ServeProcess {
  child: ResultPromise;
  client: CsiClient;
}

/**
 * Starts `nixmount serve` as its own process and waits — at most ~20 s — until Probe
 * answers ready. The process is killed and the error carries its stderr if it never does.
 */
export async function startServeProcess(args: string[], socketPath: string, options: { env?: Record<string, string>; stdio?: Options['stdio'] } = {}): Promise<ServeProcess> {
  const child = execa('node', [NIXMOUNT_CLI, 'serve', ...args], {
    env: { ...offlineNixEnv, NIXMOUNT_LOG_LEVEL: 'warn', ...options.env },
    reject: false,
    ...(options.stdio ? { stdio: options.stdio } : {}),
  });
  const client = new CsiClient(socketPath);
  for (let attempt = 0; attempt < READY_TRIES; attempt++) {
    const ready = await client.call('identity', 'Probe', {}, 1000).then(
      (probe) => probe.ready?.value === true,
      () => false, // not listening yet
    );
    if (ready) return { child, client };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, READY_PAUSE_MS));
  }
  client.close();
  child.kill('SIGKILL');
  const result = await child;
  throw new Error(`nixmount serve did not become ready: ${String(result.stderr ?? '')}`);
}
