# The image's name and tag and the local bases' names, for the image scripts. The name lives in
# src/adapters/kubernetes/manifests/image.ts (manifests/ are rendered from it, jobs/ checked
# against it) and the tag is package.json's version; this reads both so nothing disagrees.
_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE_REPO=$(sed -n "s/^export const IMAGE_REPOSITORY = '\(.*\)';$/\1/p" "$_root/src/adapters/kubernetes/manifests/image.ts")
IMAGE_TAG=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$_root/package.json")
[ -n "$IMAGE_REPO" ] && [ -n "$IMAGE_TAG" ] || { echo "image-config: cannot read the image name or version" >&2; exit 1; }
IMAGE="$IMAGE_REPO:$IMAGE_TAG"
DEBIAN_BASE=localhost/nixmount-base/debian:bookworm
NODE_BASE=localhost/nixmount-base/node:20-bookworm
export IMAGE IMAGE_REPO IMAGE_TAG DEBIAN_BASE NODE_BASE
CONTAINERS_CONF="$_root/scripts/image-containers.conf"
export CONTAINERS_CONF
