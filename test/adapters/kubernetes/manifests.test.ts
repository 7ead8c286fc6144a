import test from 'ava';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, execaSync } from 'execa';
import { parseAllDocuments } from 'yaml';
import { defaultManifestOptions } from '../../../src/adapters/kubernetes/manifests/options.js';
import { renderManifests } from '../../../src/adapters/kubernetes/manifests/render.js';
import { DEFAULT_DRIVER_NAME } from '../../../src/settings/plugin-options.js';
import { packageVersion } from '../../../src/settings/version.js';
import { tempDir } from '../../helpers/temp.js';
import { checkManifestFacts, type ParsedManifests } from './manifest-facts.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const MANIFESTS = join(REPO, 'manifests');
const CLI = join(REPO, 'dist/src/cli.js');

async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => (entry.isDirectory() ? filesBelow(join(dir, entry.name)) : Promise.resolve([join(dir, entry.name)]))),
  );
  return nested.flat();
}

/** Every file below `dir` by relative path, parsed strictly (any YAML error or warning fails). */
async function parseTree(dir: string): Promise<{ texts: Map<string, string>; parsed: ParsedManifests }> {
  const texts = new Map<string, string>();
  const files = new Map<string, Record<string, any>[]>();
  for (const file of (await filesBelow(dir)).sort()) {
    const path = relative(dir, file);
    const text = await readFile(file, 'utf8');
    texts.set(path, text);
    const docs = parseAllDocuments(text, { strict: true, uniqueKeys: true });
    if (!Array.isArray(docs)) throw new Error(`${path}: not a YAML stream`);
    for (const doc of docs) {
      if (doc.errors.length > 0 || doc.warnings.length > 0) throw new Error(`${path}: ${[...doc.errors, ...doc.warnings].join('; ')}`);
    }
    files.set(path, docs.map((doc) => doc.toJS()));
  }
  return { texts, parsed: { files } };
}

function parsedFromRender(rendered: Map<string, string>): ParsedManifests {
  return { files: new Map([...rendered].map(([path, text]) => [path, parseAllDocuments(text).map((doc: any) => doc.toJS())])) };
}

test('every committed file under manifests/ parses and states the deployment facts', async (t) => {
  const { texts, parsed } = await parseTree(MANIFESTS);
  t.true(texts.size >= 18);
  for (const path of texts.keys()) t.regex(path, /\.yaml$/);
  t.is(checkManifestFacts(t, parsed), DEFAULT_DRIVER_NAME);
});

test('the committed manifests are exactly what the renderer produces for the defaults', async (t) => {
  const { texts } = await parseTree(MANIFESTS);
  const rendered = renderManifests(defaultManifestOptions(DEFAULT_DRIVER_NAME, packageVersion()));
  t.deepEqual([...texts.keys()].sort(), [...rendered.keys()].sort());
  for (const [path, text] of rendered) t.is(texts.get(path), text, `manifests/${path} differs from the renderer; run: nixmount k8s manifests --out manifests`);
});

/** The paths a kustomization.yaml in `dir` installs, relative to manifests/. */
function resourcesOf(parsed: ParsedManifests, dir: string): string[] {
  const prefix = dir ? `${dir}/` : '';
  return (parsed.files.get(`${prefix}kustomization.yaml`)![0]!.resources as string[]).map((path) => `${prefix}${path}`);
}

test('`nixmount k8s manifests` prints the kustomization resources as one stream (--controller adds the controller\'s), and --out writes manifests/', async (t) => {
  const { texts, parsed } = await parseTree(MANIFESTS);
  const stream = (paths: string[]) => paths.map((path) => texts.get(path)).join('---\n');
  const { stdout } = await execa('node', [CLI, 'k8s', 'manifests'], { stripFinalNewline: false });
  t.is(stdout, stream(resourcesOf(parsed, '')));
  t.deepEqual(parseAllDocuments(stdout).map((doc: any) => doc.toJS().kind), ['Namespace', 'ServiceAccount', 'CSIDriver', 'DaemonSet', 'Service']);

  const withController = await execa('node', [CLI, 'k8s', 'manifests', '--controller'], { stripFinalNewline: false });
  t.is(withController.stdout, stream([...resourcesOf(parsed, ''), ...resourcesOf(parsed, 'controller')]));
  t.deepEqual(parseAllDocuments(withController.stdout).map((doc: any) => doc.toJS().kind).slice(5), [
    'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'PersistentVolumeClaim', 'Deployment',
  ]);

  const out = await tempDir(t);
  await execa('node', [CLI, 'k8s', 'manifests', '--out', out]);
  t.deepEqual((await parseTree(out)).texts, texts);
});

test('overrides (nix-csi\'s driver name, a namespace, a moved kubelet dir) keep every fact consistent', async (t) => {
  const out = await tempDir(t);
  await execa('node', [
    CLI, 'k8s', 'manifests', '--out', out,
    '--driver-name', 'nix.csi.store', '--namespace', 'nix-csi', '--image', 'example.org/nixmount:dev', '--kubelet-dir', '/var/lib/k0s/kubelet',
  ]);
  const { parsed } = await parseTree(out);
  t.is(checkManifestFacts(t, parsed, '/var/lib/k0s/kubelet'), 'nix.csi.store');
  const daemonSet = parsed.files.get('daemonset.yaml')![0]!;
  t.is(daemonSet.metadata.namespace, 'nix-csi');
  t.is(daemonSet.spec.template.spec.containers[0].image, 'example.org/nixmount:dev');
  // Cluster-wide objects carry the namespace, so a second install does not take over the first one's.
  t.is(parsed.files.get('controller/clusterrole.yaml')![0]!.metadata.name, 'nix-csi-provisioner');
});

// kubectl is not part of the project's setup; where it is installed, kustomize itself checks kustomization.yaml.
const kubectl = (() => {
  try {
    return execaSync('kubectl', ['version', '--client'], { reject: false, timeout: 20_000 }).exitCode === 0;
  } catch {
    return false;
  }
})();
for (const dir of ['', 'controller']) {
  (kubectl ? test : test.skip)(`\`kubectl kustomize manifests/${dir}\` builds exactly the installed objects`, async (t) => {
    const { parsed } = await parseTree(MANIFESTS);
    const { stdout } = await execa('kubectl', ['kustomize', join(MANIFESTS, dir)]);
    const built = parseAllDocuments(stdout).map((doc: any) => doc.toJS());
    // kustomize orders objects by kind; compare as sets.
    const byKind = (a: any, b: any) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);
    t.deepEqual(built.sort(byKind), resourcesOf(parsed, dir).flatMap((path) => parsed.files.get(path)!).sort(byKind));
  });
}

(kubectl ? test : test.skip)('`kubectl kustomize` of an overlay with the monitoring component adds exactly the PodMonitor', async (t) => {
  const { parsed } = await parseTree(MANIFESTS);
  const overlay = await tempDir(t);
  // kustomize takes only relative paths.
  const path = relative(overlay, MANIFESTS);
  await writeFile(join(overlay, 'kustomization.yaml'), `resources:\n  - ${path}\ncomponents:\n  - ${path}/monitoring\n`);
  const { stdout } = await execa('kubectl', ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', overlay]);
  const built = parseAllDocuments(stdout).map((doc: any) => doc.toJS());
  const byKind = (a: any, b: any) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);
  t.deepEqual(built.sort(byKind), [...resourcesOf(parsed, ''), 'monitoring/podmonitor.yaml'].flatMap((path) => parsed.files.get(path)!).sort(byKind));
});

test('the renderer refuses a state dir outside the /nix mount, saying why', (t) => {
  const options = { ...defaultManifestOptions(DEFAULT_DRIVER_NAME, '0.0.0'), stateDir: '/var/lib/nixmount' };
  t.throws(() => renderManifests(options), { message: /--state-dir: "\/var\/lib\/nixmount" must be below \/nix: .*hardlinks/ });
  t.notThrows(() => checkManifestFactsOnRender(t, { ...options, stateDir: '/nix/var/elsewhere' }));
});

function checkManifestFactsOnRender(t: import('ava').ExecutionContext, options: ReturnType<typeof defaultManifestOptions>): void {
  checkManifestFacts(t, parsedFromRender(renderManifests(options)));
}
