// First module of the single-file binary. nixmount finds two files relative to its own
// module (import.meta.url): proto/csi.proto, which @grpc/proto-loader reads by path, and
// package.json (the version). The binary carries both as SEA assets; they are written once
// to a directory named after their content, and import.meta.url (replaced at bundle time by
// globalThis.__nixmountMetaUrl) points three levels below it, where dist/src/<dir>/ would be.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sea from 'node:sea';

function asset(name) {
  if (sea.isSea()) return Buffer.from(sea.getAsset(name));
  // The bundle run by node (not yet injected): the files sit next to it, as build-binary.mjs leaves them.
  return readFileSync(join(dirname(process.argv[1]), name));
}

const files = { 'proto/csi.proto': asset('csi.proto'), 'package.json': asset('package.json') };
const hash = createHash('sha256');
for (const [name, data] of Object.entries(files)) hash.update(name).update(data);
const dir = join(process.env.NIXMOUNT_RUNTIME_DIR ?? tmpdir(), `nixmount-${hash.digest('hex').slice(0, 16)}`);
if (!existsSync(join(dir, '.complete'))) {
  const scratch = `${dir}.${process.pid}`;
  for (const [name, data] of Object.entries(files)) {
    mkdirSync(dirname(join(scratch, name)), { recursive: true });
    writeFileSync(join(scratch, name), data);
  }
  writeFileSync(join(scratch, '.complete'), '');
  try {
    renameSync(scratch, dir);
  } catch (error) {
    // Another nixmount got there first: its copy has the same content.
    if (!existsSync(join(dir, '.complete'))) throw error;
  }
}
globalThis.__nixmountMetaUrl = pathToFileURL(join(dir, 'dist/src/binary/nixmount.js')).href;
// Read by src/settings/single-binary.ts: the binary cannot load adapter modules, and says so.
globalThis.__nixmountSingleBinary = true;
