#!/usr/bin/env bash
# Generates TypeScript types for proto/csi.proto into src/gen (never edited by hand,
# not committed). Relative imports get a .js suffix, as Node's ESM resolution needs.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf src/gen
npx proto-loader-gen-types --keepCase --longs=String --enums=String --defaults --oneofs \
  --grpcLib=@grpc/grpc-js --outDir=src/gen proto/csi.proto >/dev/null
find src/gen -name '*.ts' -print0 | xargs -0 sed -i -E "s#from '(\.[^']+)'#from '\1.js'#"
