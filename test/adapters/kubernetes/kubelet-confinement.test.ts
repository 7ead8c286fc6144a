import test from 'ava';
import { mkdir, readdir, stat, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { mountCapability } from '../../helpers/csi-client.js';
import { mountsBelow } from '../../helpers/mounts.js';
import { buildFixture } from '../../helpers/nix.js';
import { startTestPlugin } from '../../helpers/plugin.js';
import { tempDir } from '../../helpers/temp.js';
import { KubernetesAdapter } from '../../../src/adapters/kubernetes/kubernetes-adapter.js';
import { kubeletTargetPath } from '../../../src/adapters/kubernetes/kubelet-paths.js';

// The kubelet directory's confinement through a real plugin: symlinks below it and
// paths outside it never lead nixmount to mount, create or remove anything elsewhere.

test('a symlinked mount dir or parent below the kubelet dir is INVALID_ARGUMENT (an unpublish there, with no record: OK, nothing followed); nothing is mounted or created outside', async (t) => {
  const fixture = await buildFixture('-edge-kubelet');
  const root = await tempDir(t, 'nixmount-kubelet-');
  const kubeletDir = join(root, 'var/lib/kubelet');
  const outside = join(root, 'outside');
  await mkdir(outside, { recursive: true });
  const node = await startTestPlugin(t, { adapter: new KubernetesAdapter({ nodeName: 'n', kubeletDir }) });
  const publish = (target: string) => ({
    volume_id: 'csi-1', target_path: target, volume_capability: mountCapability(), readonly: true, volume_context: { paths: fixture.root },
  });

  // …/<volume>/mount is a symlink out.
  const linkedMount = kubeletTargetPath(kubeletDir, 'pod-a', 'nix');
  await mkdir(dirname(linkedMount), { recursive: true });
  await symlink(outside, linkedMount);
  // …/kubernetes.io~csi/<volume> (the parent) is a symlink out.
  const linkedParent = kubeletTargetPath(kubeletDir, 'pod-b', 'nix');
  await mkdir(dirname(dirname(linkedParent)), { recursive: true });
  await symlink(outside, dirname(linkedParent));
  // pods/<uid> is a symlink out.
  const linkedPod = kubeletTargetPath(kubeletDir, 'pod-c', 'nix');
  await symlink(outside, join(kubeletDir, 'pods', 'pod-c'));

  for (const target of [linkedMount, linkedParent, linkedPod]) {
    for (const [method, request] of [
      ['NodePublishVolume', publish(target)],
      ['NodeUnpublishVolume', { volume_id: 'csi-1', target_path: target }],
      ['NodeGetVolumeStats', { volume_id: 'csi-1', volume_path: target }],
    ] as const) {
      const result = await node.client.code('node', method, request);
      if (method === 'NodeUnpublishVolume') {
        // Nothing of ours can be there: OK, as CSI asks of an unpublish of what is not published (kubelet would retry a refusal for ever).
        t.is(result.code, status.OK, `${method} ${target}: ${result.details}`);
        continue;
      }
      // Stats of a path no volume can be at is NOT_FOUND (as csi-sanity expects), the reason kept.
      t.is(result.code, method === 'NodeGetVolumeStats' ? status.NOT_FOUND : status.INVALID_ARGUMENT, `${method} ${target}`);
      t.regex(result.details, /goes through the symlink/);
    }
  }
  t.deepEqual(await mountsBelow(root), []);
  t.deepEqual(await readdir(outside), []);
  t.deepEqual(await readdir(join(node.stateDir, 'volumes')).catch(() => []), []);
});

test('unpublish outside the kubelet dir is INVALID_ARGUMENT, stats NOT_FOUND; the directory is kept', async (t) => {
  const root = await tempDir(t, 'nixmount-kubelet-');
  const kubeletDir = join(root, 'kubelet');
  await mkdir(join(kubeletDir, 'pods'), { recursive: true });
  const victim = join(root, 'victim');
  await mkdir(victim);
  const node = await startTestPlugin(t, { adapter: new KubernetesAdapter({ nodeName: 'n', kubeletDir }) });
  for (const target of [victim, 'victim', `${kubeletDir}/pods/../../victim`]) {
    t.is((await node.client.code('node', 'NodeUnpublishVolume', { volume_id: 'x', target_path: target })).code, status.INVALID_ARGUMENT, target);
    t.is((await node.client.code('node', 'NodeGetVolumeStats', { volume_id: 'x', volume_path: target })).code, status.NOT_FOUND, target);
  }
  t.true((await stat(victim)).isDirectory());
});

test('a kubelet dir that is itself a symlink (moved by the distribution) works; targets stay below its realpath', async (t) => {
  const fixture = await buildFixture('-edge-kubelet');
  const root = await tempDir(t, 'nixmount-kubelet-');
  const real = join(root, 'data/kubelet');
  await mkdir(join(real, 'pods'), { recursive: true });
  const kubeletDir = join(root, 'kubelet-link');
  await symlink(real, kubeletDir);
  const node = await startTestPlugin(t, { adapter: new KubernetesAdapter({ nodeName: 'n', kubeletDir }) });
  const target = kubeletTargetPath(kubeletDir, 'pod-a', 'nix');
  await mkdir(dirname(target), { recursive: true });
  const request = { volume_id: 'csi-1', target_path: target, volume_capability: mountCapability(), readonly: true, volume_context: { paths: fixture.root } };
  await node.client.call('node', 'NodePublishVolume', request);
  t.deepEqual(await mountsBelow(real), [kubeletTargetPath(real, 'pod-a', 'nix')]);
  await node.client.call('node', 'NodeUnpublishVolume', { volume_id: 'csi-1', target_path: target });
  t.deepEqual(await mountsBelow(root), []);
});
