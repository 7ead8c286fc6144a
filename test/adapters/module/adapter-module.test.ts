import test from 'ava';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, NixmountError } from '../../../src/core/errors.js';
import { adapterOptionValues } from '../../../src/adapters/module/adapter-option-values.js';
import { AdapterModuleError, adapterModuleProblems, adapterProblems } from '../../../src/adapters/module/check-adapter-module.js';
import { CheckedAdapter } from '../../../src/adapters/module/checked-adapter.js';
import { AdapterModuleLoadError, loadAdapterModule } from '../../../src/adapters/module/load-adapter-module.js';
import { ADAPTER_OPTIONS, BUILTIN_ADAPTERS, createAdapterFrom } from '../../../src/adapters/registry.js';
import type { OrchestratorAdapter } from '../../../src/core/orchestrator-adapter.js';
import { UsageError } from '../../../src/settings/option.js';
import { FIXTURES } from '../../helpers/nix.js';

const nomad = BUILTIN_ADAPTERS.nomad;

test('a module that does not fit is refused with every problem named', async (t) => {
  const error = await t.throwsAsync(loadAdapterModule(`${FIXTURES}adapters/misfit.mjs`), { instanceOf: AdapterModuleError });
  t.deepEqual(error?.problems, [
    'sdkVersion is 2; this nixmount speaks SDK version 1 (build the adapter against a matching nixmount)',
    'name "Swarm Cluster" must be lower-case words joined by "-"',
    'summary is missing: one line saying which orchestrator this is',
    'create is missing; it must be a function (context) => OrchestratorAdapter',
    'options[0] ("base_dir"): name must be lower-case words joined by "-" (it becomes --adapter-option NAME=…)',
    'options[1] ("module"): the name "module" is taken (NIXMOUNT_ADAPTER_MODULE names the module itself)',
    'options[2] ("port"): default must be a string (values are text), not number',
  ]);
  t.true(error!.message.startsWith(`the adapter module "${FIXTURES}adapters/misfit.mjs" does not fit nixmount's adapter SDK (docs/adapters.md):\n  - sdkVersion is 2;`));
});

test('a module without the default or adapter export, and a missing module, are named', async (t) => {
  const noExport = await t.throwsAsync(loadAdapterModule('./adapters/no-export.mjs', FIXTURES), { instanceOf: AdapterModuleError });
  t.deepEqual(noExport?.problems, ['it exports neither `default` nor `adapter` (it exports: swarmAdapter)']);
  const missing = await t.throwsAsync(loadAdapterModule('nixmount-adapter-that-is-not-installed', FIXTURES), { instanceOf: AdapterModuleLoadError });
  t.regex(missing!.message, /^the adapter module "nixmount-adapter-that-is-not-installed" cannot be loaded: it was not found: Cannot find package 'nixmount-adapter-that-is-not-installed'/);
});

test('a lone adapter file whose package lacks nixmount is told to install nixmount, not that it does not fit', async (t) => {
  // Outside any package (the temp dir has no node_modules above it): `nixmount/sdk` cannot resolve.
  const dir = await mkdtemp(join(tmpdir(), 'nixmount-lone-adapter-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'adapter.mjs');
  await writeFile(file, "import { SDK_VERSION } from 'nixmount/sdk';\nexport default { sdkVersion: SDK_VERSION };\n");
  const error = await t.throwsAsync(loadAdapterModule(file), { instanceOf: AdapterModuleLoadError });
  t.is(
    error!.message,
    `the adapter module "${file}" cannot be loaded: cannot resolve 'nixmount' from ${file}: install nixmount in that package ` +
      '(npm install nixmount, or npm install the tarball `npm pack` makes in a nixmount checkout; docs/adapters.md, "Its own package")',
  );
  t.notRegex(error!.message, /does not fit/);
});

test('the built-in modules fit the SDK, and so do the adapters they build', (t) => {
  for (const module of Object.values(BUILTIN_ADAPTERS)) {
    t.deepEqual(adapterModuleProblems(module), [], module.name);
    const adapter = module.create({ nodeId: 'n', protectedDirs: [], options: Object.fromEntries(module.options.map((o) => [o.name, o.default!])) });
    t.deepEqual(adapterProblems(adapter, module), [], module.name);
  }
  t.deepEqual(adapterProblems({ name: 'other', supportsStaging: 'yes', nodeIdentity: () => ({}) }, nomad), [
    'the adapter\'s name is "other"; it must be the module\'s, "nomad"',
    'supportsStaging is string; it must be true or false',
    'parseVolumeContext is missing; it must be a method',
    'checkTargetPath is missing; it must be a method',
    'checkStagingPath is missing; it must be a method',
  ]);
});

test('one option at most names the propagated directory, with a boolean; the built-in kubernetes and nomad modules name theirs', (t) => {
  const base = { sdkVersion: 1, name: 'two-dirs', summary: 's', create: () => ({}) };
  t.deepEqual(
    adapterModuleProblems({ ...base, options: [{ name: 'a', help: 'h', propagated: true }, { name: 'b', help: 'h', propagated: true }, { name: 'c', help: 'h', propagated: 'yes' }] }),
    ['options[2] ("c"): propagated must be true or false, not string', 'options: "a" and "b" are all propagated; one directory at most is'],
  );
  t.deepEqual(
    Object.values(BUILTIN_ADAPTERS).map((module) => [module.name, module.options.find((spec) => 'propagated' in spec && spec.propagated)?.name]),
    [['local', undefined], ['kubernetes', 'kubelet-dir'], ['nomad', 'stage-publish-base-dir']],
  );
});

test('adapter options: own flag, then --adapter-option, then NIXMOUNT_ADAPTER_<NAME>, then the default', (t) => {
  const env = { NIXMOUNT_ADAPTER_STAGE_PUBLISH_BASE_DIR: '/from/env' };
  t.deepEqual(adapterOptionValues(nomad, { pairs: [], env: {} }), { 'stage-publish-base-dir': '/local/csi' });
  t.deepEqual(adapterOptionValues(nomad, { pairs: [], env }), { 'stage-publish-base-dir': '/from/env' });
  t.deepEqual(adapterOptionValues(nomad, { pairs: ['stage-publish-base-dir=/a=b'], env }), { 'stage-publish-base-dir': '/a=b' });
  t.deepEqual(adapterOptionValues(nomad, { pairs: ['stage-publish-base-dir=/pair'], flags: { 'stage-publish-base-dir': '/flag' }, env }), { 'stage-publish-base-dir': '/flag' });
  t.deepEqual(adapterOptionValues(nomad, { pairs: [], env: { NIXMOUNT_ADAPTER_STAGE_PUBLISH_BASE_DIR: '' } }), { 'stage-publish-base-dir': '/local/csi' });
});

test('adapter options: an unknown name, a pair without "=", and a missing required option are usage errors naming them', (t) => {
  t.throws(() => adapterOptionValues(nomad, { pairs: ['stage-dir=/x'], env: {} }), {
    instanceOf: UsageError,
    message: '--adapter-option: the nomad adapter has no option "stage-dir" (it takes stage-publish-base-dir)',
  });
  t.throws(() => adapterOptionValues(BUILTIN_ADAPTERS.local, { pairs: ['x=1'], env: {} }), { message: '--adapter-option: the local adapter has no option "x" (it takes none)' });
  t.throws(() => adapterOptionValues(nomad, { pairs: ['novalue'], env: {} }), { message: '--adapter-option: "novalue" is not NAME=VALUE' });
  const needy = { ...nomad, name: 'needy', options: [{ name: 'api-url', help: 'the API', required: true, arg: 'URL' }] };
  t.throws(() => adapterOptionValues(needy, { pairs: [], env: {} }), {
    message: 'the needy adapter needs its option api-url (--adapter-option api-url=URL or NIXMOUNT_ADAPTER_API_URL)',
  });
});

test('serve\'s built-in adapter flags are derived from the modules\' declarations', (t) => {
  t.deepEqual(
    Object.values(ADAPTER_OPTIONS).map((spec) => [spec.flag, spec.section, spec.defaultHelp, spec.default]),
    [['kubelet-dir', 'kubernetes', '/var/lib/kubelet', undefined], ['stage-publish-base-dir', 'nomad', '/local/csi', undefined]],
  );
});

function fake(overrides: Partial<OrchestratorAdapter>): OrchestratorAdapter {
  return {
    name: 'fake', supportsStaging: false,
    parseVolumeContext: () => ({ spec: { storePaths: [], systemPaths: {} }, ephemeral: false, workload: {} }),
    nodeIdentity: () => ({ nodeId: 'n', maxVolumesPerNode: 0, topology: {} }),
    checkTargetPath: (path) => path, checkStagingPath: (path) => path,
    ...overrides,
  };
}

test('errors of another SDK copy keep their kind; other errors and wrong answers are INTERNAL naming the adapter', (t) => {
  class ForeignError extends Error {
    readonly kind = 'InvalidArgument';
  }
  const foreign = new CheckedAdapter(fake({ checkTargetPath: () => { throw new ForeignError('target_path: no'); } }));
  const mapped = t.throws(() => foreign.checkTargetPath('/x'), { instanceOf: NixmountError, message: 'target_path: no' });
  t.is((mapped as NixmountError).kind, 'InvalidArgument');
  const own = new InvalidArgumentError('mine');
  t.is(t.throws(() => new CheckedAdapter(fake({ checkStagingPath: () => { throw own; } })).checkStagingPath('/x')), own);
  const plain = new CheckedAdapter(fake({ parseVolumeContext: () => { throw new TypeError('x is undefined'); } }));
  const internal = t.throws(() => plain.parseVolumeContext({}), { message: 'the fake adapter\'s parseVolumeContext failed: x is undefined' });
  t.is((internal as NixmountError).kind, 'Internal');
  const shapes = new CheckedAdapter(fake({ checkTargetPath: () => 'relative', nodeIdentity: () => ({ nodeId: 'n', maxVolumesPerNode: -1, topology: {} }) }));
  t.throws(() => shapes.checkTargetPath('/x'), { message: 'the fake adapter\'s checkTargetPath answered something other than the canonical absolute path' });
  t.throws(() => shapes.nodeIdentity(), { message: /^the fake adapter's nodeIdentity answered something other than \{ nodeId/ });
});

test('createAdapterFrom builds a built-in adapter served through the checks', (t) => {
  const adapter = createAdapterFrom(BUILTIN_ADAPTERS.nomad, { nodeId: 'n' }, { pairs: ['stage-publish-base-dir=/alloc/csi'], env: {} });
  t.true(adapter instanceof CheckedAdapter);
  t.is(adapter.checkTargetPath('/alloc/csi/per-alloc/a/v/ro-file-system-single-node-reader-only/'), '/alloc/csi/per-alloc/a/v/ro-file-system-single-node-reader-only');
});

test('a package name is found in the node_modules of the working directory or its parents, by its exports', async (t) => {
  const project = await mkdtemp(join(tmpdir(), 'nixmount-adapter-project-'));
  t.teardown(() => rm(project, { recursive: true, force: true }));
  await mkdir(join(project, 'node_modules'));
  await symlink(fileURLToPath(new URL('../../../../sdk-examples/docker-swarm', import.meta.url)), join(project, 'node_modules', 'nixmount-adapter-docker-swarm'));
  await mkdir(join(project, 'deploy'));
  const module = await loadAdapterModule('nixmount-adapter-docker-swarm', join(project, 'deploy'));
  t.is(module.name, 'docker-swarm');
  t.deepEqual(module.options.map((option) => option.name), ['published-dir', 'staged-dir']);
});
