import test, { type ExecutionContext } from 'ava';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parse } from 'yaml';
import { defaultManifestOptions } from '../../../src/adapters/kubernetes/manifests/options.js';
import { renderManifests } from '../../../src/adapters/kubernetes/manifests/render.js';
import { packageVersion } from '../../../src/settings/version.js';
import { CsiClient } from '../../helpers/csi-client.js';
import { nixEnv } from '../../helpers/nix.js';
import { tempDir } from '../../helpers/temp.js';
import { NIXMOUNT_CLI as CLI } from '../../../support/serve-process.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const NODE_NAME = 'worker-7';

/** Kubernetes expands $(VAR) in args from the container's env; the downward API gives NODE_NAME. */
function expand(arg: string): string {
  return arg.replace(/\$\(NODE_NAME\)/g, NODE_NAME);
}

/**
 * The paths a node would have, moved under a temp dir, and the metrics port moved to a free
 * loopback one (a pod has its own network, the test machine does not); every other flag
 * exactly as the DaemonSet has it.
 */
function relocate(arg: string, dir: string): string {
  const match = /^--(endpoint|state-dir|kubelet-dir|metrics-address)=(.*)$/.exec(arg);
  if (!match) return arg;
  const moved = {
    endpoint: `unix://${dir}/csi.sock`, 'state-dir': `${dir}/nix/var/nixmount`, 'kubelet-dir': `${dir}/var/lib/kubelet`, 'metrics-address': '127.0.0.1:0',
  }[match[1] as 'endpoint'];
  return `--${match[1]}=${moved}`;
}

async function servesAs(t: ExecutionContext, daemonSetYaml: string, expectedDriver: string): Promise<void> {
  const daemonSet = parse(daemonSetYaml);
  const plugin = daemonSet.spec.template.spec.containers.find((c: any) => c.args?.includes('serve'));
  t.deepEqual(plugin.command, ['nixmount']);
  const dir = await tempDir(t);
  const args = (plugin.args as string[]).map(expand).map((arg) => relocate(arg, dir));
  const child = execa('node', [CLI, ...args], { env: nixEnv, reject: false });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const socket = join(dir, 'csi.sock');
  for (let i = 0; i < 300; i++) {
    if (await access(socket).then(() => true, () => false)) break;
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const client = new CsiClient(socket);
  try {
    t.is((await client.call('identity', 'GetPluginInfo', {}, 20_000)).name, expectedDriver);
    const info = await client.call('node', 'NodeGetInfo', {}, 20_000);
    t.is(info.node_id, NODE_NAME);
    t.deepEqual(info.accessible_topology.segments, { 'kubernetes.io/hostname': NODE_NAME });
  } catch (error) {
    child.kill('SIGKILL');
    const { stderr, exitCode } = await child;
    throw new Error(`${String(error)}; nixmount serve exited ${exitCode}: ${stderr}`);
  } finally {
    client.close();
  }
  child.kill('SIGTERM');
  const result = await child;
  t.is(result.exitCode, 0, result.stderr);
}

test('the committed DaemonSet\'s plugin args start `nixmount serve` as the driver the CSIDriver names', async (t) => {
  const csiDriver = parse(await readFile(join(REPO, 'manifests/csidriver.yaml'), 'utf8'));
  await servesAs(t, await readFile(join(REPO, 'manifests/daemonset.yaml'), 'utf8'), csiDriver.metadata.name);
});

test('--driver-name nix.csi.store runs nixmount under nix-csi\'s driver name', async (t) => {
  const rendered = renderManifests({ ...defaultManifestOptions('nix.csi.store', packageVersion()) });
  await servesAs(t, rendered.get('daemonset.yaml')!, 'nix.csi.store');
});
