// The core must stay orchestrator- and process-agnostic: no adapter, no gRPC, no
// execa, no child processes, no files, no logging library — only ports.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const core = join(root, 'src/core');
const FORBIDDEN = [/^@grpc\//, /^execa$/, /^pino$/, /^(node:)?child_process$/, /^(node:)?fs(\/promises)?$/, /^hcl2-parser$/, /^prom-client$/];

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const problems = [];
// Nothing in src/ (what ships) may lean on the tests, the bench, the demo or their shared support.
for (const file of files(join(root, 'src')).filter((path) => !path.includes('/src/gen/'))) {
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
    const target = relative(root, resolve(dirname(file), match[1]));
    if (/^(test|bench|demo|support)\//.test(target)) problems.push(`${relative(root, file)}: imports ${match[1]} (${target.split('/')[0]}/ is not shipped)`);
  }
}
for (const file of files(core)) {
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const spec = match[1] ?? match[2];
    const where = relative(root, file);
    if (FORBIDDEN.some((pattern) => pattern.test(spec))) problems.push(`${where}: imports ${spec}`);
    if (spec.startsWith('.') && !resolve(dirname(file), spec).startsWith(core)) problems.push(`${where}: imports ${spec} from outside src/core`);
  }
}
// The public SDK (src/sdk/*.ts, `nixmount/sdk`) exposes the core's adapter interface and
// the adapters' common helpers, and nothing else: no CSI layer, platform, container or package.
const SDK_ALLOWED = ['src/sdk', 'src/core', 'src/adapters/common'].map((dir) => join(root, dir));
for (const file of readdirSync(join(root, 'src/sdk')).filter((name) => name.endsWith('.ts')).map((name) => join(root, 'src/sdk', name))) {
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const spec = match[1] ?? match[2];
    const where = relative(root, file);
    if (!spec.startsWith('.')) problems.push(`${where}: the SDK imports the package ${spec}`);
    else if (!SDK_ALLOWED.some((dir) => resolve(dirname(file), spec).startsWith(`${dir}/`))) problems.push(`${where}: the SDK imports ${spec}, outside src/sdk, src/core and src/adapters/common`);
  }
}
if (problems.length > 0) {
  console.error(`layering: src/core must only depend on its ports, src/sdk only on them and the adapters' common helpers:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('layering: src/core imports no adapter, gRPC, execa, fs or child_process; the SDK entry point nothing beyond the core and the common helpers');
