import type { PluginConfig } from '../composition-root.js';
import type { NixSettings } from '../platform/nix-settings.js';
import type { StoreGcSettings } from '../core/store-watermarks.js';
import { assertFlakePrefixes } from '../core/source-settings.js';
import type { GcValues, PublishValues, ServeValues } from './command-values.js';
import { UsageError } from './option.js';
import { packageVersion } from './version.js';

/** Nix takes whole seconds, at least 1. */
function seconds(ms: number): number {
  return Math.max(1, Math.round(ms / 1000));
}

/** What the composition root is given (all but the adapter and the logger), from the plugin's parsed options. */
export type PluginSettings = Required<Pick<PluginConfig, 'settings' | 'nix' | 'sources' | 'mounts'>>;

/** The options `serve` and `publish` both take: those the pipeline is configured with. */
export type PipelineValues = Pick<ServeValues, keyof ServeValues & keyof PublishValues>;

/**
 * The one translation of the plugin's options into the settings the composition
 * root binds; `serve` and the local commands share it. `refresh` makes Nix refetch
 * unlocked sources now (publish --refresh).
 */
export function pluginSettings(values: PipelineValues, refresh = false): PluginSettings {
  try {
    assertFlakePrefixes(values.flakePrefixes ?? []);
  } catch (error) {
    throw new UsageError(`--flake-prefixes: ${(error as Error).message}`);
  }
  const sources = {
    policy: {
      allowExpressions: values.allowSources.includes('expression'),
      allowFlakes: values.allowSources.includes('flake'),
      flakePrefixes: values.flakePrefixes ?? [],
      allowBuilds: values.builds === 'allowed',
    },
    realiseWaitMs: values.realiseWait,
    failureMemoryMs: values.failureMemory,
    evalTtlMs: values.evalTtl,
    pushTo: values.pushTo,
  };
  const nix: NixSettings = {
    storeUri: values.store ?? '',
    // An explicitly empty --substituters means "no caches", which differs from "not given".
    substituters: values.substituters,
    trustedPublicKeys: values.trustedPublicKeys,
    connectTimeoutSec: seconds(values.connectTimeout),
    system: values.system,
    stalledDownloadTimeoutSec: seconds(values.stalledDownloadTimeout),
    nixPath: values.nixPath,
    downloadAttempts: values.downloadAttempts,
    // Nix's cache of fetched unlocked sources expires together with nixmount's evaluations.
    tarballTtlSec: refresh ? 0 : Math.round(sources.evalTtlMs / 1000),
    pushSecretKeyFile: values.pushKeyFile,
  };
  const settings = {
    driverName: values.driverName,
    driverVersion: packageVersion(),
    nodeId: values.nodeId,
    stateDir: values.stateDir,
    viewIdleMs: values.viewIdle,
    viewMode: values.viewMode,
    mountMaxFile: values.mountMaxFile,
  };
  return { settings, nix, sources, mounts: { helper: values.mountHelper } };
}

/** The store GC watermarks of `serve` and `gc --store-paths`: both or neither, low below high. */
export function storeGcSettings(values: Pick<GcValues, 'storeGcHigh' | 'storeGcLow' | 'storeGcTimeout'> & { storeGcInterval?: number }): StoreGcSettings {
  const { storeGcHigh: high, storeGcLow: low } = values;
  if ((high === undefined) !== (low === undefined)) {
    throw new UsageError('--store-gc-high and --store-gc-low go together: give both (e.g. 85 and 75), or neither to leave the store alone');
  }
  if (high !== undefined && low !== undefined && low >= high) {
    throw new UsageError(`--store-gc-low (${low}) must be below --store-gc-high (${high})`);
  }
  return {
    ...(high !== undefined && low !== undefined ? { highPercent: high, lowPercent: low } : {}),
    intervalMs: Math.max(1000, values.storeGcInterval ?? 5 * 60_000),
    timeoutMs: Math.max(1000, values.storeGcTimeout),
  };
}
