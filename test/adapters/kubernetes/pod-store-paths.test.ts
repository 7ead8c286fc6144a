import test from 'ava';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { inClusterApiServer } from '../../../src/adapters/kubernetes/api/in-cluster.js';
import { PodsApi } from '../../../src/adapters/kubernetes/api/pods-api.js';
import { KubernetesAdapter } from '../../../src/adapters/kubernetes/kubernetes-adapter.js';
import { storePathsInPod, takePodStorePaths } from '../../../src/adapters/kubernetes/pod-store-paths.js';
import { FakeApiServer } from '../../helpers/fake-api-server.js';
import { KubeletHarness, pod } from '../../helpers/kubelet-harness.js';
import { buildFixture } from '../../helpers/nix.js';
import { startTestPlugin } from '../../helpers/plugin.js';
import { tempDir } from '../../helpers/temp.js';
import { DRIVER_NAME, NODE_NAME } from './kubelet-node.js';

const HELLO = '/nix/store/0c8rxc8dlb4iq7mf1ndr4ndcg9sm1qdn-hello-2.12.1';
const PY = '/nix/store/1bk0nm85yq3h7xy4mdxh7f6mnkpf0k5w-python3-3.11.7';
const COREUTILS = '/nix/store/2zs5vgn0rv4w3bm5r2d2j3szqnvd0kbr-coreutils-9.3';

test('the store paths of a pod: command, args and env values of its containers and init containers, each once, sorted', (t) => {
  const found = storePathsInPod({
    spec: {
      initContainers: [{ command: [`${COREUTILS}/bin/cp`, '-r'] }],
      containers: [
        {
          command: [`${HELLO}/bin/hello`],
          args: ['--greeting', `run ${PY}/bin/python3 -c 'print(1)'`],
          env: [
            { name: 'PATH', value: `${COREUTILS}/bin:${PY}/bin:/usr/bin` },
            { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
            // Not store paths: a bad hash alphabet, no name, and a name over Nix's 211 characters.
            { name: 'NOISE', value: `/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x /nix/store/ /nix/store/3zs5vgn0rv4w3bm5r2d2j3szqnvd0kbr-${'a'.repeat(212)}` },
          ],
        },
        { command: [`${HELLO}/bin/hello`], image: 'x' },
      ],
    },
  });
  t.deepEqual(found, [HELLO, PY, COREUTILS].sort());
  t.deepEqual(storePathsInPod({}), []);
  t.deepEqual(storePathsInPod({ spec: { containers: 'not a list' } }), []);
});

test('podStorePaths is "true" or "false", and is not a key the closure parser sees', (t) => {
  t.deepEqual(takePodStorePaths({ podStorePaths: 'true', paths: HELLO }), { rest: { paths: HELLO }, fromPod: true });
  t.deepEqual(takePodStorePaths({ podStorePaths: 'false' }), { rest: {}, fromPod: false });
  t.throws(() => takePodStorePaths({ podStorePaths: 'yes' }), { message: 'podStorePaths: "yes" is neither "true" nor "false"' });
});

async function podNode(t: Parameters<typeof startTestPlugin>[0]) {
  const api = await FakeApiServer.start(t);
  const kubeletDir = join(await tempDir(t, 'nixmount-kubelet-'), 'var/lib/kubelet');
  await mkdir(join(kubeletDir, 'pods'), { recursive: true });
  const pods = new PodsApi(await inClusterApiServer(api.env, api.serviceAccountDir));
  const node = await startTestPlugin(t, {
    adapter: new KubernetesAdapter({ nodeName: NODE_NAME, kubeletDir, pods }),
    settings: { driverName: DRIVER_NAME, nodeId: NODE_NAME },
  });
  const kubelet = new KubeletHarness({ client: node.client, kubeletDir, nodeName: NODE_NAME });
  return { api, node, kubelet };
}

test('a volume that names no paths gets the closure of the store paths its pod runs, read from the API server', async (t) => {
  const fixture = await buildFixture();
  const { api, kubelet } = await podNode(t);
  const p = pod({ name: 'hello', namespace: 'apps', volumes: [{ name: 'nix', readOnly: true, volumeAttributes: { podStorePaths: 'true' } }] });
  api.pods.set('apps/hello', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hello', namespace: 'apps' }, spec: { containers: [{ name: 'app', image: 'scratch', command: [`${fixture.root}/bin/app`] }] } });
  t.deepEqual((await kubelet.startPod(p)).map((o) => o.code), [status.OK]);
  const target = kubelet.targetPath(p, p.volumes[0]!);
  const data = fixture.closure.find((path) => path.includes('fixture-data'))!;
  t.is(await readFile(join(target, 'store', data.slice('/nix/store/'.length), 'share/greeting'), 'utf8'), 'greetings from the data path \n');
  t.deepEqual(
    api.seen.map((request) => `${request.method} ${request.path} ${request.status}`),
    ['GET /api/v1/namespaces/apps/pods/hello 200'],
  );
  t.deepEqual((await kubelet.deletePod(p)).map((o) => o.code), [status.OK]);
});

test('podStorePaths refusals name what is wrong: RBAC, a pod naming nothing, no pod info', async (t) => {
  const { api, node, kubelet } = await podNode(t);
  const volume = { name: 'nix', readOnly: true, volumeAttributes: { podStorePaths: 'true' } };
  const empty = pod({ name: 'empty', namespace: 'apps', volumes: [volume] });
  api.pods.set('apps/empty', { spec: { containers: [{ name: 'app', command: ['/bin/sh'] }] } });
  const [nothing] = await kubelet.startPod(empty);
  t.is(nothing!.code, status.INVALID_ARGUMENT);
  t.is(nothing!.details, 'podStorePaths: pod "apps/empty" names no /nix/store/ path in its containers\' command, args or env, and the volume names no other closure');

  api.failure = 'forbidden';
  const [denied] = await kubelet.startPod(pod({ name: 'denied', namespace: 'apps', volumes: [volume] }));
  t.is(denied!.code, status.PERMISSION_DENIED);
  t.regex(denied!.details, /cannot get resource "pods".*needs get on pods: apply the pod-store-paths\/ component/);
  api.failure = 'none';

  const [gone] = await kubelet.startPod(pod({ name: 'gone', namespace: 'apps', volumes: [volume] }));
  t.is(gone!.code, status.FAILED_PRECONDITION);
  t.regex(gone!.details, /pod "apps\/gone" not found/);

  const blind = new KubeletHarness({ client: node.client, kubeletDir: kubelet.kubeletDir, nodeName: NODE_NAME, podInfoOnMount: false });
  const [noInfo] = await blind.startPod(pod({ name: 'blind', namespace: 'apps', volumes: [volume] }));
  t.is(noInfo!.code, status.INVALID_ARGUMENT);
  t.regex(noInfo!.details, /podInfoOnMount: true/);
  t.deepEqual(await kubelet.mounts(), []);
});
