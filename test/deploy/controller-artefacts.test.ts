import test from 'ava';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { KubernetesAdapter } from '../../src/adapters/kubernetes/kubernetes-adapter.js';
import { DEFAULT_DRIVER_NAME } from '../../src/settings/plugin-options.js';
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

// The static facts of manifests/controller/ (Deployment, RBAC, StorageClass, claim) are checked with the
// node plugin's in test/adapters/kubernetes/controller-facts.ts; here the StorageClass meets a real controller.
test('StorageClass parameters: CreateVolume returns them as the context, and a node accepts the PV the provisioner writes', async (t) => {
  const storageClass = find(await manifests('examples/storageclass.yaml'), 'StorageClass');
  const controller = await startTestPlugin(t, { mode: 'controller' });
  const { volume } = await controller.client.call('controller', 'CreateVolume', createRequest('pvc-0123', storageClass.parameters));
  t.deepEqual(volume.volume_context, storageClass.parameters);
  // kubelet's context for the PV: the provisioner's volumeAttributes (context + its identity) and pod info.
  const kubelet = new KubernetesAdapter({ nodeName: 'worker-1', kubeletDir: '/var/lib/kubelet' });
  const parsed = kubelet.parseVolumeContext({
    ...volume.volume_context,
    'storage.kubernetes.io/csiProvisionerIdentity': `1732245600000-8081-${DEFAULT_DRIVER_NAME}`,
    'csi.storage.k8s.io/pod.name': 'nix-hello-pvc',
    'csi.storage.k8s.io/ephemeral': 'false',
  });
  t.deepEqual(parsed.spec, parseUserContext(storageClass.parameters));
  t.false(parsed.ephemeral);
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
