import { DEFAULT_SOURCE_SETTINGS, type SourceSettings } from '../core/source-settings.js';
import type { NixSettings } from '../platform/nix-settings.js';
import { parseDuration } from './options.js';

/** Flags deciding which sources a node accepts and how it realises them (serve and publish share them). */
export const sourceOptions = {
  'allow-sources': { type: 'string' },
  'flake-prefixes': { type: 'string' },
  builds: { type: 'string' },
  'realise-wait': { type: 'string' },
  'failure-memory': { type: 'string' },
  'eval-ttl': { type: 'string' },
  'push-to': { type: 'string' },
  'push-key-file': { type: 'string' },
  'nix-path': { type: 'string' },
  'download-attempts': { type: 'string' },
  'stalled-download-timeout': { type: 'string' },
} as const;

export type SourceOptionValues = Partial<Record<keyof typeof sourceOptions, string>>;

const SOURCE_KINDS = ['paths', 'expression', 'flake'] as const;

function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

function list(text: string | undefined): string[] {
  return (text ?? '').split(/[\s,]+/).filter((entry) => entry.length > 0);
}

function allowedKinds(text: string): Set<string> {
  const kinds = new Set<string>();
  for (const entry of list(text)) {
    const kind = { expressions: 'expression', flakes: 'flake', path: 'paths' }[entry] ?? entry;
    if (!(SOURCE_KINDS as readonly string[]).includes(kind)) {
      throw new Error(`--allow-sources: "${entry}" is not a source kind (known: ${SOURCE_KINDS.join(', ')})`);
    }
    kinds.add(kind);
  }
  return kinds;
}

function buildsAllowed(text: string): boolean {
  if (text === 'allowed') return true;
  if (text === 'never') return false;
  throw new Error(`--builds: "${text}" must be "never" (substitute only) or "allowed"`);
}

export function sourceSettings(values: SourceOptionValues): SourceSettings {
  const defaults = DEFAULT_SOURCE_SETTINGS;
  const kinds = allowedKinds(values['allow-sources'] ?? env('NIXMOUNT_ALLOW_SOURCES') ?? 'paths');
  const duration = (flag: 'realise-wait' | 'failure-memory' | 'eval-ttl', envName: string, fallback: number) => {
    const text = values[flag] ?? env(envName);
    return text === undefined ? fallback : parseDuration(text, flag);
  };
  return {
    policy: {
      allowExpressions: kinds.has('expression'),
      allowFlakes: kinds.has('flake'),
      flakePrefixes: list(values['flake-prefixes'] ?? env('NIXMOUNT_FLAKE_PREFIXES')),
      allowBuilds: buildsAllowed(values.builds ?? env('NIXMOUNT_BUILDS') ?? 'never'),
    },
    realiseWaitMs: duration('realise-wait', 'NIXMOUNT_REALISE_WAIT', defaults.realiseWaitMs),
    failureMemoryMs: duration('failure-memory', 'NIXMOUNT_FAILURE_MEMORY', defaults.failureMemoryMs),
    evalTtlMs: duration('eval-ttl', 'NIXMOUNT_EVAL_TTL', defaults.evalTtlMs),
    pushTo: values['push-to'] ?? env('NIXMOUNT_PUSH_TO'),
  };
}

/** The Nix side of the same flags; `refresh` makes Nix refetch unlocked sources now. */
export function sourceNixSettings(values: SourceOptionValues, sources: SourceSettings, refresh = false): Partial<NixSettings> {
  const attempts = values['download-attempts'] ?? env('NIXMOUNT_DOWNLOAD_ATTEMPTS') ?? '2';
  if (!/^[1-9]\d*$/.test(attempts)) throw new Error(`--download-attempts: "${attempts}" is not a positive number`);
  const stalled = parseDuration(values['stalled-download-timeout'] ?? env('NIXMOUNT_STALLED_DOWNLOAD_TIMEOUT') ?? '30s', 'stalled-download-timeout');
  return {
    stalledDownloadTimeoutSec: Math.max(1, Math.round(stalled / 1000)),
    nixPath: values['nix-path'] ?? env('NIXMOUNT_NIX_PATH'),
    downloadAttempts: Number(attempts),
    // Nix's cache of fetched unlocked sources expires together with nixmount's evaluations.
    tarballTtlSec: refresh ? 0 : Math.round(sources.evalTtlMs / 1000),
    pushSecretKeyFile: values['push-key-file'] ?? env('NIXMOUNT_PUSH_KEY_FILE'),
  };
}
