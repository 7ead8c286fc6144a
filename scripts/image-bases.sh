#!/usr/bin/env bash
# Makes the two base images the Dockerfile takes as build arguments, locally and offline
# (base images cannot be pulled on these machines):
#   localhost/nixmount-base/debian:bookworm   a Debian 12 root filesystem from Debian's mirror (debootstrap)
#   localhost/nixmount-base/node:20-bookworm  that, plus this machine's own Node 20 (the official binary) and npm
# Elsewhere the Dockerfile's defaults (node:20-bookworm, debian:bookworm-slim) do the same job.
# Downloads are cached under .cache/image (ignored by git); safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/image-config.sh

CACHE=${NIXMOUNT_IMAGE_CACHE:-$PWD/.cache/image}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$CACHE"

need=()
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v buildah >/dev/null 2>&1 || need+=(buildah)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v runc >/dev/null 2>&1 || need+=(runc)
if [ ${#need[@]} -gt 0 ]; then
  echo "image: installing ${need[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! podman image exists "$DEBIAN_BASE"; then
  rootfs="$CACHE/debian-bookworm-rootfs"
  if [ ! -e "$rootfs/.complete" ]; then
    echo "image: debootstrap Debian 12 (minbase) into $rootfs"
    rm -rf "$rootfs"; mkdir -p "$CACHE/debootstrap-debs"
    debootstrap --variant=minbase --cache-dir="$CACHE/debootstrap-debs" bookworm "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    # What debian:bookworm-slim does too: no docs, man pages or apt lists in the image.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
    touch "$rootfs/.complete"
  fi
  echo "image: importing $DEBIAN_BASE"
  tar -C "$rootfs" --exclude=./.complete --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* -c . \
    | podman import --change 'CMD ["/bin/bash"]' - "$DEBIAN_BASE" >/dev/null
fi

if ! podman image exists "$NODE_BASE"; then
  node_bin=$(readlink -f "$(command -v node)")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  case "$(node --version)" in v20.*) ;; *) echo "image: this machine's node is $(node --version); the Node base needs Node 20" >&2; exit 1 ;; esac
  echo "image: making $NODE_BASE from $DEBIAN_BASE, $node_bin ($(node --version)) and npm from $npm_dir"
  ctr=$(buildah from "$DEBIAN_BASE")
  trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
  buildah copy "$ctr" "$node_bin" /usr/local/bin/node >/dev/null
  buildah copy "$ctr" "$npm_dir" /usr/local/lib/node_modules/npm >/dev/null
  buildah run "$ctr" -- ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
  buildah run "$ctr" -- ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
  buildah run "$ctr" -- node --version >/dev/null
  buildah config --cmd '["node"]' "$ctr"
  buildah commit --quiet "$ctr" "$NODE_BASE" >/dev/null
fi
echo "image: bases ready: $DEBIAN_BASE $NODE_BASE"
