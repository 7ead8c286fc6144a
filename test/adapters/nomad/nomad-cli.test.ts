import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readVolumeSpec } from '../../../src/adapters/nomad/tooling/volume-spec-file.js';
import { nixmountInProcess } from '../../helpers/cli-in-process.js';
import { FIXTURES } from '../../helpers/nix.js';
import { nixmount as nixmountProcess } from '../../helpers/serve-process.js';
import { tempDir } from '../../helpers/temp.js';
import { JOBS_DIR } from './shipped-jobs.js';

const NOMAD = join(FIXTURES, 'nomad');
const HELLO = join(JOBS_DIR, 'hello.volume.hcl');

/** `nixmount ARGS`, run in this process (the last test runs the real one). */
function nixmount(...args: string[]) {
  return nixmountInProcess(args);
}

/** Runs `nomad check` on a fixture and returns the problem lines (the summary line dropped). */
async function problems(job: string, ...volumes: string[]): Promise<{ exitCode?: number; lines: string[] }> {
  const result = await nixmount('nomad', 'check', join(NOMAD, job), ...volumes);
  return { exitCode: result.exitCode, lines: result.stdout.split('\n').filter((line) => line !== '' && !/^\d+ problem\(s\)$/.test(line)) };
}

const cases: Array<[string, string[], RegExp[]]> = [
  ['missing-modes.nomad.hcl', [HELLO], [/job "missing-modes" group "app" volume "nix": access_mode is missing/, /job "missing-modes" group "app" volume "nix": attachment_mode is missing/]],
  ['reader-writable.nomad.hcl', [HELLO], [/volume "nix": access_mode "multi-node-reader-only" is reader-only, so the claim needs read_only = true/]],
  ['single-node-count.nomad.hcl', [HELLO], [/volume "nix": access_mode "single-node-reader-only" allows one claim, but the group has count = 3; set per_alloc = true/]],
  ['per-alloc-system.nomad.hcl', [], [/job "per-alloc-system" group "app" volume "nix": per_alloc is not allowed in a system job/]],
  ['unknown-source.nomad.hcl', [HELLO], [/volume "nix": source "nix-missing": no given volume spec defines it/]],
  ['unknown-mount.nomad.hcl', [HELLO], [/group "app" task "main" volume_mount: names volume "nixpkgs", which the group does not define \(the group has: nix\)/]],
  ['typo-context.nomad.hcl', [join(NOMAD, 'typo-context.volume.hcl')], [/typo-context\.volume\.hcl: volume "nix-typo": context: unknown volume context key "path"/]],
  ['broken.nomad.hcl', [HELLO], [/broken\.nomad\.hcl: not valid HCL: line \d+: "\{" is never closed/]],
];

for (const [job, volumes, expected] of cases) {
  test(`nomad check reports exactly the problem in ${job}`, async (t) => {
    const result = await problems(job, ...volumes);
    t.is(result.exitCode, 1);
    t.is(result.lines.length, expected.length, result.lines.join('\n'));
    // Each line names its file first: the jobspec, or the volume spec the problem is in.
    const file = job === 'typo-context.nomad.hcl' ? volumes[0]! : join(NOMAD, job);
    for (const [index, pattern] of expected.entries()) {
      t.true(result.lines[index]!.startsWith(`${file}: `), result.lines[index]);
      t.regex(result.lines[index]!, pattern);
    }
  });
}

test('nomad check passes the shipped jobs/ files', async (t) => {
  const files = await readdir(JOBS_DIR);
  const volumes = files.filter((name) => name.endsWith('.volume.hcl')).map((name) => join(JOBS_DIR, name));
  const jobs = files.filter((name) => name.endsWith('.nomad.hcl'));
  t.true(volumes.length >= 4);
  t.true(jobs.includes('example-app.nomad.hcl') && jobs.includes('nixmount.nomad.hcl'));
  for (const job of jobs) {
    const result = await nixmount('nomad', 'check', join(JOBS_DIR, job), ...volumes);
    t.is(result.exitCode, 0, result.stdout);
    t.regex(result.stdout, /no problems found/);
  }
});

test('the shipped plugin job states the facts Nomad needs', async (t) => {
  const { readJobspecs } = await import('../../../src/adapters/nomad/tooling/jobspec.js');
  const { parseHcl, labelledBlocks, blocks } = await import('../../../src/adapters/nomad/tooling/hcl.js');
  const text = await readFile(join(JOBS_DIR, 'nixmount.nomad.hcl'), 'utf8');
  const [job] = readJobspecs(text, 'nixmount.nomad.hcl');
  t.is(job!.type, 'system');
  const [[, group]] = labelledBlocks(labelledBlocks(parseHcl(text, 'x'), 'job')[0]![1], 'group') as [[string, Record<string, unknown>]];
  const [[, task]] = labelledBlocks(group, 'task') as [[string, Record<string, unknown>]];
  const plugin = blocks(task, 'csi_plugin')[0]!;
  t.like(plugin, { id: 'nixmount', type: 'node', mount_dir: '/csi', stage_publish_base_dir: '/local/csi' });
  t.truthy(plugin.health_timeout);
  const config = blocks(task, 'config')[0]!;
  t.is(config.privileged, true);
  const args = config.args as string[];
  t.deepEqual(args.slice(0, 5), ['own-store', '--store-dir', '/nix/store', '--', 'serve']);
  t.is(args[args.indexOf('--orchestrator') + 1], 'nomad');
  t.is(args[args.indexOf('--node-id') + 1], '${node.unique.id}');
  t.is(args[args.indexOf('--stage-publish-base-dir') + 1], plugin.stage_publish_base_dir as string);
  // Views are hardlinks into /nix/store: the state dir must be on the mounted /nix.
  t.true(args[args.indexOf('--state-dir') + 1]!.startsWith('/nix/'));
  t.false(args.includes('--endpoint')); // Nomad sets CSI_ENDPOINT
  t.truthy(blocks(task, 'resources')[0]);
  // Metrics: the container port the plugin listens on is mapped, the task publishes it, a service registers it.
  const metricsPort = labelledBlocks(blocks(group, 'network')[0]!, 'port').find(([name]) => name === 'metrics')?.[1];
  t.is(args[args.indexOf('--metrics-address') + 1], `:${String(metricsPort?.to)}`);
  t.deepEqual(config.ports, ['metrics']);
  t.like(blocks(group, 'service')[0], { name: 'nixmount-metrics', port: 'metrics', provider: 'nomad' });
});

test('nomad volume writes a spec that parses back to the same context, templates escaped', async (t) => {
  const dir = await tempDir(t);
  const expression = 'let name = "x"; in derivation {\n  name = "${name}";\n  builder = "%{not-a-template}";\n}';
  const file = join(dir, 'expr.volume.hcl');
  const result = await nixmount('nomad', 'volume', '--id', 'nix-expr', '--expression', expression, '--output', file);
  t.is(result.exitCode, 0, result.stderr);
  const spec = readVolumeSpec(await readFile(file, 'utf8'), file);
  t.like(spec, { id: 'nix-expr', type: 'csi', pluginId: 'nixmount' });
  t.is(spec.context.expression, `${expression}\n`);
  t.deepEqual(spec.capabilities.map((c) => c.accessMode), ['multi-node-reader-only', 'single-node-reader-only']);

  const paths = await nixmount('nomad', 'volume', '--id', 'nix-p', '--paths', '/nix/store/63l345l7dgcfz789w1y93j1540czafqh-hello-2.12.1', '--access-mode', 'single-node-writer');
  t.is(paths.exitCode, 0);
  t.deepEqual(readVolumeSpec(paths.stdout, 'stdout').context, { paths: '/nix/store/63l345l7dgcfz789w1y93j1540czafqh-hello-2.12.1' });
  const flake = await nixmount('nomad', 'volume', '--id', 'nix-f', '--flake', 'github:NixOS/nixpkgs/nixos-24.05#hello');
  t.deepEqual(readVolumeSpec(flake.stdout, 'stdout').context, { flakeRef: 'github:NixOS/nixpkgs/nixos-24.05#hello' });

  const bad = await nixmount('nomad', 'volume', '--id', 'x', '--paths', '/usr/bin/hello');
  t.is(bad.exitCode, 1);
  t.regex(bad.stderr, /\/usr\/bin\/hello/);
  const two = await nixmount('nomad', 'volume', '--id', 'x', '--paths', '/nix/store/63l345l7dgcfz789w1y93j1540czafqh-hello-2.12.1', '--flake', 'a#b');
  t.regex(two.stderr, /exactly one of/);
});

test('a created volume (nomad volume create) is checked through its parameters', async (t) => {
  const { checkVolumeSpec } = await import('../../../src/adapters/nomad/tooling/nomad-check.js');
  const text = (block: string) => `id = "v"\ntype = "csi"\nplugin_id = "nixmount"\ncapability {\n  access_mode = "multi-node-reader-only"\n  attachment_mode = "file-system"\n}\n${block}\n`;
  const good = readVolumeSpec(text('parameters {\n  flakeRef = "path:/x#y"\n}'), 'good.hcl');
  t.deepEqual(checkVolumeSpec(good), []);
  const typo = readVolumeSpec(text('parameters {\n  flake = "path:/x#y"\n}'), 'typo.hcl');
  t.deepEqual(checkVolumeSpec(typo).map((p) => `${p.where}: ${p.message}`), [
    'volume "v": parameters: unknown volume context key "flake" (known: paths, expression, flakeRef, or a system such as x86_64-linux)',
  ]);
  const neither = readVolumeSpec(text(''), 'neither.hcl');
  t.regex(checkVolumeSpec(neither)[0]!.message, /^context: the volume context names no closure/);
});

test('the real process of `nomad check` prints the same problems and exits 1', async (t) => {
  const args = ['nomad', 'check', join(NOMAD, 'missing-modes.nomad.hcl'), HELLO];
  const real = await nixmountProcess(args);
  t.is(real.exitCode, 1);
  t.deepEqual({ exitCode: real.exitCode, stdout: real.stdout, stderr: real.stderr }, await nixmountInProcess(args));
  t.regex(real.stdout, /^2 problem\(s\)$/m);
});
