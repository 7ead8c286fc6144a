export const NixSettings = Symbol('NixSettings');

/** How nixmount talks to the node's Nix store; set on `nixmount serve`. */
export interface NixSettings {
  /** Store URI given to every command (`--store`); empty means Nix's default. */
  storeUri: string;
  /** Binary caches to substitute from; undefined keeps Nix's own configuration. */
  substituters?: string[];
  trustedPublicKeys?: string[];
  /** Seconds to wait for a cache connection before giving up on it. */
  connectTimeoutSec: number;
  /** The node's Nix system; asked from Nix when absent. */
  system?: string;
  /** NIX_PATH for evaluating expressions (`<nixpkgs>` lookups); undefined keeps the environment's. */
  nixPath?: string;
  /** Tries per download; Nix's default (5, with backoff) makes an unreachable cache cost many timeouts. */
  downloadAttempts?: number;
  /** Seconds without data after which a download from a cache is abandoned (a cache that accepts but never answers). */
  stalledDownloadTimeoutSec?: number;
  /** Seconds Nix trusts its cache of fetched unlocked sources (flake inputs, tarballs); 0 refetches. */
  tarballTtlSec?: number;
  /** Secret key file signing what the node pushes to a cache (`nix-store --generate-binary-cache-key`). */
  pushSecretKeyFile?: string;
}

/** The directory that holds /nix/store's files for this store URI (chroot stores: `local?root=DIR`). */
export function physicalRoot(storeUri: string): string {
  const query = storeUri.split('?')[1];
  if (!query) return '/';
  const root = new URLSearchParams(query).get('root');
  return root && root.length > 0 ? root : '/';
}

/** NIX_CONFIG lines for the settings: what nixmount decides, on top of the node's nix.conf. */
export function nixConfig(settings: NixSettings): string {
  const lines = [
    'experimental-features = nix-command flakes',
    `connect-timeout = ${settings.connectTimeoutSec}`,
    // Never accept a substitute not signed by a trusted key, whatever the node's nix.conf says.
    'require-sigs = true',
    // A path missing from a cache may be pushed there by another node a minute later.
    'narinfo-cache-negative-ttl = 0',
  ];
  if (settings.downloadAttempts !== undefined) lines.push(`download-attempts = ${settings.downloadAttempts}`);
  if (settings.stalledDownloadTimeoutSec !== undefined) lines.push(`stalled-download-timeout = ${settings.stalledDownloadTimeoutSec}`);
  if (settings.tarballTtlSec !== undefined) lines.push(`tarball-ttl = ${settings.tarballTtlSec}`);
  if (settings.substituters) lines.push(`substituters = ${settings.substituters.join(' ')}`);
  if (settings.trustedPublicKeys) lines.push(`trusted-public-keys = ${settings.trustedPublicKeys.join(' ')}`);
  return lines.join('\n');
}
