// The core must stay orchestrator- and process-agnostic: no adapter, no gRPC, no
// execa, no child processes, no files, no logging library — only ports. And src/
// is built in floors: a file imports from its own floor or the ones below, never
// from above. Every kind of import counts: static, `import type`, `export … from`
// and a literal dynamic `import()` (a command table that loads its commands on
// demand still depends on them).
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

/** Every import of a file: [specifier, how]. */
function imports(text) {
  return [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((match) =>
    match[1] !== undefined ? [match[1], 'imports'] : [match[2], 'loads (dynamic import)'],
  );
}

const problems = [];
// Nothing in src/ (what ships) may lean on the tests, the bench, the demo or their shared support.
for (const file of files(join(root, 'src')).filter((path) => !path.includes('/src/gen/'))) {
  const text = readFileSync(file, 'utf8');
  for (const [spec, how] of imports(text)) {
    if (!spec.startsWith('.')) continue;
    const target = relative(root, resolve(dirname(file), spec));
    if (/^(test|bench|demo|support)\//.test(target)) problems.push(`${relative(root, file)}: ${how} ${spec} (${target.split('/')[0]}/ is not shipped)`);
  }
}
for (const file of files(core)) {
  const text = readFileSync(file, 'utf8');
  for (const [spec] of imports(text)) {
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
  for (const [spec] of imports(text)) {
    const where = relative(root, file);
    if (!spec.startsWith('.')) problems.push(`${where}: the SDK imports the package ${spec}`);
    else if (!SDK_ALLOWED.some((dir) => resolve(dirname(file), spec).startsWith(`${dir}/`))) problems.push(`${where}: the SDK imports ${spec}, outside src/sdk, src/core and src/adapters/common`);
  }
}
// The floors of src/, lowest first; a path belongs to the floor of its longest prefix.
const FLOORS = [
  ['src/core/'],
  // The machine, and the value kinds every option table is made of.
  ['src/gen/', 'src/platform/', 'src/adapters/common/', 'src/settings/option.ts', 'src/settings/listen-address.ts'],
  // What differs per orchestrator, the SDK over it, the CSI server.
  ['src/adapters/', 'src/sdk/', 'src/csi/'],
  // A running plugin put together (the Nomad host volume service runs the pipeline itself).
  ['src/composition-root.ts', 'src/plugin-services.ts', 'src/plugin-metrics.ts', 'src/running-plugin.ts', 'src/state-dir-lock.ts', 'src/state-dir-watch.ts', 'src/owner-temps.ts', 'src/adapters/nomad-host/host-volume-service.ts'],
  // Every option, and its translation into the settings the composition root binds.
  ['src/settings/'],
  // The commands and what only a command loads.
  ['src/cli/', 'src/cli.ts', 'src/doctor/'],
];
function floorOf(path) {
  let floor = -1;
  let longest = -1;
  FLOORS.forEach((prefixes, index) => {
    for (const prefix of prefixes) if (path.startsWith(prefix) && prefix.length > longest) [floor, longest] = [index, prefix.length];
  });
  return floor;
}
for (const file of files(join(root, 'src'))) {
  const where = relative(root, file);
  const floor = floorOf(where);
  if (floor < 0) problems.push(`${where}: on no floor (add it to FLOORS in scripts/check-layering.mjs)`);
  for (const [spec, how] of imports(readFileSync(file, 'utf8'))) {
    if (!spec.startsWith('.')) continue;
    const target = relative(root, resolve(dirname(file), spec)).replace(/\.js$/, '.ts');
    if (floorOf(target) > floor) problems.push(`${where}: ${how} ${spec}, a floor above its own (${FLOORS[floorOf(target)][0]}… over ${FLOORS[floor][0]}…)`);
  }
}
// Only the composition root resolves from the container; everything else is handed
// its collaborators (a container passed around is a service locator).
for (const file of files(join(root, 'src'))) {
  const where = relative(root, file);
  if (where === 'src/composition-root.ts') continue;
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, index) => {
    if (/\bcontainer\??\.(get|getAll|getAsync|getNamed|getTagged)\b/.test(line)) problems.push(`${where}:${index + 1}: resolves from the container outside src/composition-root.ts`);
  });
}
if (problems.length > 0) {
  console.error(`layering: src/core must only depend on its ports, src/sdk only on them and the adapters' common helpers, no import may run up the floors of src/, and only the composition root may resolve from the container:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('layering: src/core imports no adapter, gRPC, execa, fs or child_process; the SDK entry point nothing beyond the core and the common helpers; no import runs up the floors of src/; only the composition root resolves from the container');
