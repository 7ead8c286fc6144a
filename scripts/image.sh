#!/usr/bin/env bash
# `npm run image`: builds the plugin image from the Dockerfile with podman, from bases made
# locally (scripts/image-bases.sh). NODE_IMAGE / RUNTIME_IMAGE override the bases (e.g. the
# official node:20-bookworm and debian:bookworm-slim where they can be pulled).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/image-config.sh
if [ -z "${NODE_IMAGE:-}" ] || [ -z "${RUNTIME_IMAGE:-}" ]; then
  bash scripts/image-bases.sh
fi
NODE_IMAGE=${NODE_IMAGE:-$NODE_BASE}
RUNTIME_IMAGE=${RUNTIME_IMAGE:-$DEBIAN_BASE}
started=$(date +%s)
echo "image: building $IMAGE (bases: $NODE_IMAGE, $RUNTIME_IMAGE)"
# Host network: the build runs `npm ci` and `apt-get install`, and needs no bridge set up.
# The host's CA bundle is mounted into the build's RUN steps only (for networks that intercept
# TLS to the npm registry); nothing of it lands in the image.
ca=()
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  ca=(--volume /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg npm_config_cafile=/run/host-ca.crt)
fi
podman build --network host --pull=never "${ca[@]}" \
  --build-arg NODE_IMAGE="$NODE_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" --build-arg VERSION="$IMAGE_TAG" \
  -t "$IMAGE" -f Dockerfile .
size=$(podman image inspect "$IMAGE" --format '{{.Size}}')
echo "image: built $IMAGE in $(( $(date +%s) - started ))s, $(( size / 1000000 )) MB"
