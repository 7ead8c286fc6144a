import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { tempDir } from '../../helpers/temp.js';
import { JOBS_DIR } from '../nomad/shipped-jobs.js';

const CLI = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const HELLO_PATH = '/nix/store/63l345l7dgcfz789w1y93j1540czafqh-hello-2.12.1';

function hostSpec(options: { name?: string; plugin?: string; capabilities?: string[]; parameters?: string; extra?: string } = {}): string {
  return [
    options.name === undefined ? 'name = "nix-tools"' : options.name,
    'type = "host"',
    `plugin_id = "${options.plugin ?? 'nixmount'}"`,
    ...(options.capabilities ?? ['single-node-reader-only']).map((mode) => `capability {\n  access_mode = "${mode}"\n  attachment_mode = "file-system"\n}`),
    `parameters {\n${options.parameters ?? `  paths = "${HELLO_PATH}"`}\n}`,
    options.extra ?? '',
  ].join('\n');
}

function job(volume: string): string {
  return `job "tools" {
  group "app" {
    volume "nix" {
      type   = "host"
      source = "nix-tools"
${volume}
    }
    task "main" {
      driver = "exec"
      config { command = "/nix/var/result/bin/hello" }
      volume_mount {
        volume      = "nix"
        destination = "/nix"
      }
    }
  }
}
`;
}

const READ_ONLY_CLAIM = '      read_only = true\n      access_mode = "single-node-reader-only"\n      attachment_mode = "file-system"';

/** Runs `nixmount nomad check` on a jobspec and volume specs written to a temp dir; returns the problem lines. */
async function check(t: Parameters<typeof tempDir>[0], jobText: string, ...specs: string[]): Promise<{ exitCode?: number; lines: string[]; files: string[] }> {
  const dir = await tempDir(t);
  const jobFile = join(dir, 'job.nomad.hcl');
  await writeFile(jobFile, jobText);
  const files = await Promise.all(specs.map(async (text, i) => {
    const file = join(dir, `v${i}.volume.hcl`);
    await writeFile(file, text);
    return file;
  }));
  const result = await execa('node', [CLI, 'nomad', 'check', jobFile, ...files], { reject: false });
  return { exitCode: result.exitCode, lines: result.stdout.split('\n').filter((line) => line !== '' && !/^\d+ problem\(s\)$/.test(line) && !/no problems found/.test(line)), files: [jobFile, ...files] };
}

test('the shipped host volume spec and the job claiming it pass, and the job claims that spec', async (t) => {
  const result = await execa('node', [CLI, 'nomad', 'check', join(JOBS_DIR, 'host-volume-app.nomad.hcl'), join(JOBS_DIR, 'host-volume-hello.volume.hcl')], { reject: false });
  t.is(result.exitCode, 0, result.stdout);
  t.regex(result.stdout, /no problems found \(checked against 1 volume spec\(s\)\)/);
  const spec = await readFile(join(JOBS_DIR, 'host-volume-hello.volume.hcl'), 'utf8');
  t.regex(spec, /^type\s+= "host"$/m);
  t.regex(spec, /^plugin_id = "nixmount"$/m);
  t.regex(await readFile(join(JOBS_DIR, 'host-volume-app.nomad.hcl'), 'utf8'), /source\s+= "nix-hello-host"/);
});

test('a correct host volume claim passes', async (t) => {
  const result = await check(t, job(READ_ONLY_CLAIM), hostSpec());
  t.is(result.exitCode, 0, result.lines.join('\n'));
  t.deepEqual(result.lines, []);
});

test('a writable claim of a read-only host volume is reported', async (t) => {
  const result = await check(t, job('      access_mode = "single-node-reader-only"\n      attachment_mode = "file-system"'), hostSpec());
  t.is(result.exitCode, 1);
  t.deepEqual(result.lines, [`${result.files[0]}: job "tools" group "app" volume "nix": host volume "nix-tools" (${result.files[1]}) is read-only by construction; set read_only = true (writes would fail with EROFS)`]);
});

test('a claim with a mode the host volume does not offer, or that host volumes do not have, is reported', async (t) => {
  const writer = await check(t, job('      read_only = true\n      access_mode = "single-node-writer"\n      attachment_mode = "file-system"'), hostSpec());
  t.deepEqual(writer.lines, [`${writer.files[0]}: job "tools" group "app" volume "nix": host volume "nix-tools" (${writer.files[1]}) has no capability single-node-writer/file-system`]);
  const multi = await check(t, job('      read_only = true\n      access_mode = "multi-node-reader-only"\n      attachment_mode = "file-system"'), hostSpec());
  t.is(multi.lines.length, 2, multi.lines.join('\n'));
  t.regex(multi.lines[0]!, /access_mode "multi-node-reader-only" is not a host volume access mode/);
});

test('host volume specs: writer capabilities on a read-only volume, a context block, typos, a bad readOnly and no name are reported', async (t) => {
  const cases: Array<[string, RegExp]> = [
    [hostSpec({ capabilities: ['single-node-writer'] }), /host volume "nix-tools": capability access_mode "single-node-writer" lets jobs claim the volume writable, but it is read-only/],
    [hostSpec({ extra: `context {\n  paths = "${HELLO_PATH}"\n}` }), /host volume "nix-tools": a context block: host volumes have none; put paths in parameters/],
    [hostSpec({ parameters: `  path = "${HELLO_PATH}"` }), /host volume "nix-tools": parameters: unknown volume context key "path"/],
    [hostSpec({ parameters: `  paths = "${HELLO_PATH}"\n  readOnly = "yes"` }), /parameters readOnly "yes" must be "true" \(the default\) or "false"/],
    [hostSpec({ name: '' }), /host volume "\(no name\)": name is missing/],
    [hostSpec({ capabilities: [] }), /no capability block: state access_mode "single-node-reader-only"/],
  ];
  for (const [spec, pattern] of cases) {
    const result = await check(t, job(READ_ONLY_CLAIM), spec);
    t.is(result.exitCode, 1);
    const own = result.lines.filter((line) => line.startsWith(`${result.files[1]}: `));
    t.is(own.length, 1, result.lines.join('\n'));
    t.regex(own[0]!, pattern);
  }
});

test('a writable overlay volume (readOnly = "false") may offer writer modes and be claimed writable', async (t) => {
  const spec = hostSpec({ capabilities: ['single-node-writer'], parameters: `  paths = "${HELLO_PATH}"\n  readOnly = "false"` });
  const result = await check(t, job('      access_mode = "single-node-writer"\n      attachment_mode = "file-system"'), spec);
  t.is(result.exitCode, 0, result.lines.join('\n'));
});

test('another plugin\'s host volume, and claims of it, are not judged', async (t) => {
  const spec = hostSpec({ plugin: 'mkdir', capabilities: ['single-node-writer'], parameters: '  mode = "0755"' });
  const result = await check(t, job('      access_mode = "single-node-writer"\n      attachment_mode = "file-system"'), spec);
  t.is(result.exitCode, 0, result.lines.join('\n'));
});
