import { nixConfig, type NixSettings } from '../platform/nix-settings.js';
import type { ProcessRunner } from '../platform/process-runner.js';

/** The Nix settings doctor judges caches by. */
export interface EffectiveNixConfig {
  substituters: string[];
  trustedPublicKeys: string[];
  /** Where they come from: Nix itself (nix.conf and nixmount's overrides), or only nixmount's flags when Nix cannot say. */
  source: 'nix' | 'flags';
}

const TIMEOUT_MS = 10_000;

type ShowConfig = Record<string, { value?: unknown }>;

function words(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String).filter((word) => word.length > 0) : [];
}

/**
 * What serve's Nix calls see: `nix show-config` under the NIX_CONFIG serve gives every
 * Nix command, so the node's nix.conf and nixmount's --substituters/--trusted-public-keys
 * merge as they do for a realisation. Without a working Nix, the flags alone.
 */
export async function effectiveNixConfig(runner: ProcessRunner, settings: NixSettings): Promise<EffectiveNixConfig> {
  const show = (args: string[]) =>
    runner.run('nix', [...args, '--json'], { env: { NIX_CONFIG: nixConfig(settings) }, timeoutMs: TIMEOUT_MS, allowFailure: true }).catch(() => undefined);
  // `nix show-config` until Nix 2.19, `nix config show` since (the old name is kept as an alias for a while).
  let result = await show(['show-config']);
  if (result !== undefined && result.exitCode > 0) result = await show(['config', 'show']);
  if (result?.exitCode === 0) {
    try {
      const config = JSON.parse(result.stdout) as ShowConfig;
      return { substituters: words(config.substituters?.value), trustedPublicKeys: words(config['trusted-public-keys']?.value), source: 'nix' };
    } catch {
      // Not JSON: fall through to the flags.
    }
  }
  return { substituters: settings.substituters ?? [], trustedPublicKeys: settings.trustedPublicKeys ?? [], source: 'flags' };
}
