#!/usr/bin/env bash
# `npm run test:image`: builds the image (`npm run image`) and the single binary
# (`npm run binary`), then runs test/image/ (ava.image.config.js): the container driven by
# the kubelet and Nomad replays, on the host's /nix and on an empty one that substitutes
# from a signed loopback cache; the binary in a Debian 12 chroot without Node. Heavy (minutes,
# about 1 GB of disk); `npm test` does not run it. Results: .cache/image/report.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/image-config.sh
bash scripts/image.sh
node scripts/build-binary.mjs
mkdir -p .cache/image
echo "# npm run test:image $(date -u +%FT%TZ)" >> .cache/image/report.txt
# Views are hardlinks into /nix/store: scratch space must be on the store's filesystem.
if [ "$(stat -c %d "${TMPDIR:-/tmp}")" != "$(stat -c %d /nix/var 2>/dev/null || stat -c %d /nix)" ]; then
  export TMPDIR=/nix/var/nixmount-test-tmp
  mkdir -p "$TMPDIR"
fi
npx --no-install ava --config ava.image.config.js "$@"
tail -n 8 .cache/image/report.txt
