import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import type { NodeSettings } from '../core/settings.js';
import type { NixSettings } from '../platform/nix-settings.js';

export const DEFAULT_DRIVER_NAME = 'nixmount.csi.nixos.dev';
export const DEFAULT_STATE_DIR = '/var/lib/nixmount';
export const DEFAULT_VIEW_IDLE = '15m';

/** Options every command that touches a node shares; env vars give defaults (none CSI_-prefixed but CSI_ENDPOINT). */
export const nodeOptions = {
  'node-id': { type: 'string' },
  'state-dir': { type: 'string' },
  'driver-name': { type: 'string' },
  store: { type: 'string' },
  substituters: { type: 'string' },
  'trusted-public-keys': { type: 'string' },
  'connect-timeout': { type: 'string' },
  system: { type: 'string' },
  'view-idle': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

export type NodeOptionValues = Partial<Record<keyof typeof nodeOptions, string>>;

function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** "90s", "15m", "2h", "500ms" or plain milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`--${flag}: "${text}" is not a duration (e.g. 30s, 15m, 0)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 'ms'] ?? 1;
  return Number(match[1]) * unit;
}

function list(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  return text.split(/[\s,]+/).filter((entry) => entry.length > 0);
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function nodeSettings(values: NodeOptionValues): NodeSettings {
  return {
    driverName: values['driver-name'] ?? env('NIXMOUNT_DRIVER_NAME') ?? DEFAULT_DRIVER_NAME,
    driverVersion: packageVersion(),
    nodeId: values['node-id'] ?? env('NIXMOUNT_NODE_ID') ?? hostname(),
    stateDir: values['state-dir'] ?? env('NIXMOUNT_STATE_DIR') ?? DEFAULT_STATE_DIR,
    viewIdleMs: parseDuration(values['view-idle'] ?? env('NIXMOUNT_VIEW_IDLE') ?? DEFAULT_VIEW_IDLE, 'view-idle'),
  };
}

export function nixSettings(values: NodeOptionValues): NixSettings {
  return {
    storeUri: values.store ?? env('NIXMOUNT_STORE') ?? '',
    // An explicitly empty --substituters means "no caches", which differs from "not given".
    substituters: list(values.substituters ?? process.env.NIXMOUNT_SUBSTITUTERS),
    trustedPublicKeys: list(values['trusted-public-keys'] ?? process.env.NIXMOUNT_TRUSTED_PUBLIC_KEYS),
    connectTimeoutSec: Math.max(1, Math.round(parseDuration(values['connect-timeout'] ?? env('NIXMOUNT_CONNECT_TIMEOUT') ?? '5s', 'connect-timeout') / 1000)),
    system: values.system ?? env('NIXMOUNT_SYSTEM'),
  };
}
