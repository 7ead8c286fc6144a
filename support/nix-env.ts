/**
 * Nix as the tests, the bench and the demo run it: offline (no cache, so nothing
 * waits on an unreachable cache.nixos.org), flakes on, single-user root, no sandbox.
 */
export const OFFLINE_NIX_CONFIG = ['experimental-features = nix-command flakes', 'substituters =', 'sandbox = false'].join('\n');
export const offlineNixEnv = { NIX_CONFIG: OFFLINE_NIX_CONFIG };
