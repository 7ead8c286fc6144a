import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from '../gen/csi.js';

// dist/src/csi → ../../../proto ; src/csi → ../../proto. Resolve from the package root either way.
const PROTO = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../proto/csi.proto' : '../../proto/csi.proto', import.meta.url));

let loaded: ProtoGrpcType | undefined;

/** The csi.v1 package, loaded once from proto/csi.proto with snake_case field names. */
export function csiProto(): ProtoGrpcType {
  loaded ??= loadPackageDefinition(
    loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }),
  ) as unknown as ProtoGrpcType;
  return loaded;
}
