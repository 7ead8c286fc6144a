import test from 'ava';
import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { readJobspecs } from '../../src/adapters/nomad/tooling/jobspec.js';
import { blocks, labelledBlocks, parseHcl } from '../../src/adapters/nomad/tooling/hcl.js';
import { checkJobspec } from '../../src/adapters/nomad/tooling/nomad-check.js';
import { CsiClient } from '../helpers/csi-client.js';
import { mountsBelow } from '../helpers/mounts.js';
import { buildFixture, nixEnv } from '../helpers/nix.js';
import { NomadClientSim } from '../helpers/nomad-harness.js';
import { allocId, csiClaim, group, shippedJob, shippedVolume } from '../adapters/nomad/shipped-jobs.js';
import { CLI, addServeFlags, hostMountsAt, nixosNode, nomadJobArgs, REPO, setFlag, sharedDir } from './nixos-node.js';

const JOB = 'nixmount-binary.nomad.hcl';

/** The raw_exec job's config args and csi_plugin block, as nomad-check reads them. */
async function binaryJob() {
  const [job] = readJobspecs(await readFile(join(REPO, 'jobs', JOB), 'utf8'), JOB);
  const task = job!.groups[0]!.tasks[0]!;
  return { job: job!, task };
}

test('the raw_exec job: absolute command, stage_publish_base_dir is the client\'s own plugin dir and equals the flag, no --endpoint', async (t) => {
  const { job, task } = await binaryJob();
  t.is(job.type, 'system');
  t.is(task.driver, 'raw_exec');
  t.is(task.config.command, '/usr/local/bin/nixmount');
  t.deepEqual(task.csiPlugin, { id: 'nixmount', type: 'node', mountDir: '/csi', stagePublishBaseDir: '/opt/nomad/data/client/csi/node/nixmount' });
  t.deepEqual(checkJobspec(job, []), []);
  // Metrics on the host's network: the address of the port Nomad picks, registered as a service.
  const args = task.config.args as string[];
  t.is(args[args.indexOf('--metrics-address') + 1], '${NOMAD_ADDR_metrics}');
  const text = await readFile(join(REPO, 'jobs', JOB), 'utf8');
  const [[, group]] = labelledBlocks(labelledBlocks(parseHcl(text, JOB), 'job')[0]![1], 'group') as [[string, Record<string, unknown>]];
  t.deepEqual(labelledBlocks(blocks(group, 'network')[0]!, 'port').map(([name]) => name), ['metrics']);
  t.like(blocks(group, 'service')[0], { name: 'nixmount-metrics', port: 'metrics', provider: 'nomad' });
});

test('nomad check reports plugin tasks that cannot work: base dir mismatch, raw_exec in /local, unprivileged docker, exec, --endpoint', (t) => {
  const job = (driver: string, config: string, plugin: string) =>
    readJobspecs(`job "p" {\n type = "system"\n group "g" {\n  task "t" {\n   driver = "${driver}"\n   config {\n${config}\n   }\n   csi_plugin {\n${plugin}\n   }\n  }\n }\n}\n`, 'p.nomad.hcl')[0]!;
  const serve = (base: string, extra = '') => `args = ["serve", "--orchestrator", "nomad", "--stage-publish-base-dir", "${base}"${extra}]`;
  const messages = (j: ReturnType<typeof job>) => checkJobspec(j, []).map((p) => p.message);
  t.deepEqual(messages(job('docker', `privileged = true\n${serve('/local/csi')}`, 'id = "nixmount"\ntype = "node"')), []);
  t.deepEqual(messages(job('docker', serve('/local/csi'), 'id = "nixmount"\ntype = "node"')), ['driver "docker" without privileged = true: the plugin cannot mount']);
  t.regex(messages(job('docker', `privileged = true\n${serve('/local/other')}`, 'id = "nixmount"\ntype = "node"\nstage_publish_base_dir = "/local/csi"'))[0]!, /--stage-publish-base-dir is "\/local\/other", but csi_plugin stage_publish_base_dir is "\/local\/csi"/);
  t.regex(messages(job('raw_exec', `command = "/usr/local/bin/nixmount"\n${serve('/local/csi')}`, 'id = "nixmount"\ntype = "node"\nstage_publish_base_dir = "/local/csi"'))[0]!, /raw_exec has no filesystem isolation, so stage_publish_base_dir must be the client's own directory/);
  t.regex(messages(job('raw_exec', `command = "nixmount"\n${serve('/d/client/csi/node/nixmount')}`, 'id = "nixmount"\ntype = "node"\nstage_publish_base_dir = "/d/client/csi/node/nixmount"'))[0]!, /raw_exec command must be an absolute path/);
  t.regex(messages(job('exec', serve('/local/csi'), 'id = "nixmount"\ntype = "node"'))[0]!, /driver "exec": nixmount needs to mount as root/);
  t.regex(messages(job('docker', `privileged = true\n${serve('/local/csi', ', "--endpoint", "unix:///csi/csi.sock"')}`, 'id = "nixmount"\ntype = "node"'))[0]!, /--endpoint is set/);
  // Another plugin's task is not ours to judge.
  t.deepEqual(messages(job('exec', 'args = []', 'id = "other"\ntype = "node"')), []);
});

test('the raw_exec job\'s args on a simulated NixOS node, in the host\'s namespace as raw_exec runs them: own-store changes no mount; stage, two allocations, unstage; the host keeps its read-only bind', async (t) => {
  const fixture = await buildFixture('-nixos');
  const node = await nixosNode(t, [fixture.root]);
  // Nomad's <data_dir>/client/csi/node/nixmount, under the simulated node's root; its mounts live in the host's namespace.
  const base = join(node.root, 'opt/nomad/data/client/csi/node/nixmount');
  await sharedDir(base);
  let args = (await nomadJobArgs(JOB)).map((a) => (a === '${node.unique.id}' ? 'raw-1' : a));
  args = setFlag(args, 'store-dir', node.store);
  args = setFlag(args, 'state-dir', join(node.root, 'nix/var/nixmount'));
  args = setFlag(args, 'stage-publish-base-dir', base);
  args = addServeFlags(args, [`--store=local?root=${node.root}`]);
  const socket = join(node.root, 'opt/nomad/data/client/csi/plugins/alloc-1/csi.sock');
  const child = execa('node', [CLI, ...args], { env: { ...nixEnv, CSI_ENDPOINT: `unix://${socket}`, NIXMOUNT_LOG_LEVEL: 'info' }, reject: false, all: true });
  const client = new CsiClient(socket);
  t.teardown(async () => {
    client.close();
    child.kill('SIGTERM');
    await child;
  });
  for (let i = 0; i < 300 && !(await access(socket).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
  const sim = new NomadClientSim(client, base);
  await sim.fingerprint(200);
  t.is(sim.nodeInfo?.node_id, 'raw-1');
  const { claim } = csiClaim(group(await shippedJob('example-app.nomad.hcl'), 'hello'));
  const volume = await shippedVolume('hello.volume.hcl', fixture.root);
  const allocs = [await sim.startAllocation(allocId(), volume, claim), await sim.startAllocation(allocId(), volume, claim)];
  const data = fixture.closure.find((p) => p.includes('fixture-data'))!.slice('/nix/store/'.length);
  const inode = (await stat(join(node.store, data, 'share/greeting'))).ino;
  for (const alloc of allocs) t.is((await stat(join(alloc.targetPath, 'store', data, 'share/greeting'))).ino, inode);
  for (const alloc of allocs) await sim.stopAllocation(alloc.allocId);
  t.deepEqual(await mountsBelow(base), [base]);
  t.true((await hostMountsAt(node.store))[0]!.includes('ro'));
  child.kill('SIGTERM');
  const result = await child;
  t.is(result.exitCode, 0, result.all);
  t.regex(result.all ?? '', /no mount here changes/);
});
