import test from 'ava';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_DRIVER_NAME } from '../../src/cli/options.js';
import { parseUserContext } from '../../src/core/volume-context.js';
import { createRequest } from '../conformance/requests.js';
import { startTestPlugin } from '../helpers/plugin.js';

// hcl2-parser is untyped CommonJS; typed here for what the test uses.
const require = createRequire(import.meta.url);
const hcl = require('hcl2-parser') as { parseToObject(text: string): [unknown, unknown] };

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

type Doc = Record<string, any>;

async function manifests(file: string): Promise<Doc[]> {
  return parseAllDocuments(await readFile(`${ROOT}manifests/controller/${file}`, 'utf8'))
    .map((doc) => doc.toJS())
    .filter(Boolean) as Doc[];
}

async function hclFile(file: string): Promise<Doc> {
  const [parsed, error] = hcl.parseToObject(await readFile(`${ROOT}jobs/${file}`, 'utf8'));
  if (error) throw new Error(`jobs/${file}: ${String(error)}`);
  return parsed as Doc;
}

function find(docs: Doc[], kind: string): Doc {
  const doc = docs.find((d) => d.kind === kind);
  if (!doc) throw new Error(`no ${kind}`);
  return doc;
}

test('controller Deployment: one replica, Recreate, nixmount --mode=controller and the provisioner on one socket', async (t) => {
  const docs = await manifests('controller.yaml');
  const deployment = find(docs, 'Deployment');
  t.is(deployment.spec.replicas, 1);
  t.is(deployment.spec.strategy.type, 'Recreate');
  const pod = deployment.spec.template.spec;
  const nixmount = pod.containers.find((c: Doc) => c.name === 'nixmount');
  const provisioner = pod.containers.find((c: Doc) => c.name === 'csi-provisioner');
  t.true(nixmount.args.includes('--mode=controller'));
  t.true(nixmount.args.includes('--endpoint=unix:///csi/csi.sock'));
  t.regex(provisioner.image, /\/csi-provisioner:v\d+/);
  t.true(provisioner.args.includes('--csi-address=/csi/csi.sock'));
  t.false(provisioner.args.some((arg: string) => arg.startsWith('--extra-create-metadata')));
  for (const container of [nixmount, provisioner]) {
    t.true(container.volumeMounts.some((m: Doc) => m.name === 'socket-dir' && m.mountPath === '/csi'), container.name);
  }
  // The state dir is on the claim, so it survives the pod.
  const stateDir = nixmount.args.find((arg: string) => arg.startsWith('--state-dir=')).slice('--state-dir='.length);
  const stateMount = nixmount.volumeMounts.find((m: Doc) => m.mountPath === stateDir);
  const stateVolume = pod.volumes.find((v: Doc) => v.name === stateMount.name);
  t.is(stateVolume.persistentVolumeClaim.claimName, find(docs, 'PersistentVolumeClaim').metadata.name);
  t.is(pod.serviceAccountName, find(await manifests('rbac.yaml'), 'ServiceAccount').metadata.name);
});

test('provisioner RBAC covers PVs, PVCs, StorageClasses, events and leader-election leases', async (t) => {
  const docs = await manifests('rbac.yaml');
  const rules = find(docs, 'ClusterRole').rules as Doc[];
  const allows = (resource: string, verb: string) => rules.some((r) => r.resources.includes(resource) && r.verbs.includes(verb));
  for (const [resource, verb] of [['persistentvolumes', 'create'], ['persistentvolumes', 'delete'], ['persistentvolumeclaims', 'watch'], ['storageclasses', 'get'], ['events', 'create']]) {
    t.true(allows(resource!, verb!), `${resource} ${verb}`);
  }
  t.true((find(docs, 'Role').rules as Doc[]).some((r) => r.resources.includes('leases') && r.verbs.includes('update')));
});

test('StorageClass: provisioned by nixmount, parameters are valid user keys that CreateVolume turns into the volume context', async (t) => {
  const storageClass = find(await manifests('storageclass.yaml'), 'StorageClass');
  t.is(storageClass.provisioner, DEFAULT_DRIVER_NAME);
  t.notThrows(() => parseUserContext(storageClass.parameters));
  const controller = await startTestPlugin(t, { mode: 'controller' });
  const { volume } = await controller.client.call('controller', 'CreateVolume', createRequest('pvc-0123', storageClass.parameters));
  t.deepEqual(volume.volume_context, storageClass.parameters);

  const example = await manifests('pvc-example.yaml');
  const claim = find(example, 'PersistentVolumeClaim');
  t.is(claim.spec.storageClassName, storageClass.metadata.name);
  t.deepEqual(claim.spec.accessModes, ['ReadOnlyMany']);
  const pod = find(example, 'Pod').spec;
  t.is(pod.volumes[0].persistentVolumeClaim.claimName, claim.metadata.name);
  t.deepEqual(pod.containers[0].volumeMounts[0], { name: pod.volumes[0].name, mountPath: '/nix', readOnly: true });
});

test('Nomad controller job: one controller instance of plugin "nixmount", state on a sticky disk', async (t) => {
  const job = (await hclFile('nixmount-controller.nomad.hcl')).job['nixmount-controller'][0];
  t.is(job.type, 'service');
  const group = job.group.controller[0];
  t.is(group.count, 1);
  t.like(group.ephemeral_disk[0], { sticky: true, migrate: true });
  const task = group.task.plugin[0];
  t.like(task.csi_plugin[0], { id: 'nixmount', type: 'controller', mount_dir: '/csi' });
  const args = task.config[0].args as string[];
  t.is(args[args.indexOf('--mode') + 1], 'controller');
  t.regex(args[args.indexOf('--state-dir') + 1]!, /^\/alloc\/data\//);
});

test('Nomad volume spec for `nomad volume create`: parameters CreateVolume accepts, known access modes', async (t) => {
  const spec = await hclFile('nix-hello-created.volume.hcl');
  t.is(spec.type, 'csi');
  t.is(spec.plugin_id, 'nixmount');
  const parameters = spec.parameters[0] as Record<string, string>;
  t.notThrows(() => parseUserContext(parameters));
  for (const capability of spec.capability as Doc[]) {
    t.regex(capability.access_mode, /^(single|multi)-node-(reader-only|writer|single-writer|multi-writer)$/);
    t.is(capability.attachment_mode, 'file-system');
  }
  t.is(spec.context, undefined, 'the context comes from CreateVolume, not the spec');
  const controller = await startTestPlugin(t, { mode: 'controller' });
  const { volume } = await controller.client.call('controller', 'CreateVolume', createRequest(spec.name, parameters));
  t.deepEqual(volume.volume_context, parameters);
});
