#!/usr/bin/env bash
# Makes a fresh Debian 12 machine (as root) ready for `npm run demo`, `npm test` and
# `npm run bench`: system packages, npm packages, the build. Safe to run again; it
# only installs what is missing and rebuilds only when a source changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# --no-system: only the npm packages and the build (npm run test:unit, on a machine
# without Nix and without root).
system=1
[ "${1:-}" = --no-system ] && system=0

need_apt=()
if [ "$system" = 1 ]; then
command -v nix-store >/dev/null 2>&1 || need_apt+=(nix-bin)
command -v mount >/dev/null 2>&1 || need_apt+=(mount)
command -v findmnt >/dev/null 2>&1 || need_apt+=(util-linux)
command -v rsync >/dev/null 2>&1 || need_apt+=(rsync)   # the nix-csi baseline in the benchmark uses it
command -v python3 >/dev/null 2>&1 || need_apt+=(python3) # serves the loopback binary cache in tests
command -v curl >/dev/null 2>&1 || need_apt+=(curl)       # replays an old kubelet's HTTP/2 :authority in tests
[ -x /usr/sbin/nginx ] || need_apt+=(nginx)                 # its WebDAV module is the cluster cache the cache tests push to
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing ${need_apt[*]}; run as root so they can be installed" >&2
    exit 1
  fi
  echo "setup: installing ${need_apt[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Debian's nix-bin ships no nix.conf, and Nix's built-in defaults (build users from a
# `nixbld` group that nix-bin does not create, sandboxed builds, cache.nixos.org) fail on
# a fresh machine without network. A node that already has a nix.conf keeps it.
if [ ! -e /etc/nix/nix.conf ] && [ "$(id -u)" = 0 ]; then
  echo "setup: writing /etc/nix/nix.conf for single-user Nix as root (no build users, no sandbox, no default cache)"
  mkdir -p /etc/nix
  cat > /etc/nix/nix.conf <<'CONF'
# Written by nixmount's scripts/setup.sh: single-user Nix run by root, no daemon, offline.
build-users-group =
sandbox = false
substituters =
CONF
fi

fi # system

# Each npm step runs only when its inputs changed (scripts/setup-done.mjs compares
# contents, not file times), so running the tests again starts them at once.
if ! node scripts/setup-done.mjs install; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

if node scripts/setup-done.mjs build; then
  echo "setup: the build is current"
else
  echo "setup: building"
  # Hashed before building, so a file edited during the build is built next time.
  sources=$(node scripts/setup-done.mjs stamp-build)
  npm run --silent build
  echo "$sources" > dist/.built-from.sha256
fi
