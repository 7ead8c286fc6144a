import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { KubernetesAdapter } from '../../../src/adapters/kubernetes/kubernetes-adapter.js';
import { KubeletHarness } from '../../helpers/kubelet-harness.js';
import { startTestPlugin, type TestPlugin, type TestPluginOptions } from '../../helpers/plugin.js';
import { tempDir } from '../../helpers/temp.js';

export const NODE_NAME = 'worker-1';
export const DRIVER_NAME = 'nixmount.csi.nixos.dev';

export interface KubeletNode {
  node: TestPlugin;
  kubelet: KubeletHarness;
}

/** A real plugin serving the Kubernetes adapter, and a kubelet replaying calls against it under a temp kubelet root. */
export async function startKubeletNode(t: ExecutionContext, nix?: TestPluginOptions['nix']): Promise<KubeletNode> {
  const kubeletDir = join(await tempDir(t, 'nixmount-kubelet-'), 'var/lib/kubelet');
  await mkdir(join(kubeletDir, 'pods'), { recursive: true });
  const node = await startTestPlugin(t, {
    adapter: new KubernetesAdapter({ nodeName: NODE_NAME, kubeletDir }),
    settings: { driverName: DRIVER_NAME, nodeId: NODE_NAME },
    nix,
  });
  const kubelet = new KubeletHarness({ client: node.client, kubeletDir, nodeName: NODE_NAME });
  return { node, kubelet };
}

/** Entries of a state subdirectory (views, volumes, overlays), without in-progress dot names. */
export async function stateEntries(node: TestPlugin, subdir: 'views' | 'volumes' | 'overlays'): Promise<string[]> {
  const names = await readdir(join(node.stateDir, subdir)).catch(() => [] as string[]);
  return names.filter((name) => !name.startsWith('.')).sort();
}
