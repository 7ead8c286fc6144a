import test, { type ExecutionContext } from 'ava';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { execa, type ResultPromise } from 'execa';
import { CsiClient } from '../../helpers/csi-client.js';
import { FakeApiServer } from '../../helpers/fake-api-server.js';
import { KubeletHarness, pod, type Pod } from '../../helpers/kubelet-harness.js';
import { buildFixture, FIXTURES_DIR, nixEnv } from '../../helpers/nix.js';
import { CLI, nixmount } from '../../helpers/serve-process.js';
import { counterFile, countedExpression, uniqueSalt } from '../../helpers/sources.js';
import { tempDir } from '../../helpers/temp.js';

// `nixmount serve --kubernetes-events` as its own process, in a pod's shoes: the
// API server's address in KUBERNETES_SERVICE_HOST/PORT and the service-account token
// and CA at /var/run/secrets/kubernetes.io/serviceaccount — put there in a private
// mount namespace (a tmpfs over /run), so the host's /run is never touched. Its
// mounts live and die in that namespace; kubelet's directories are shared.

const NODE_NAME = 'worker-3';
const SA_MOUNT = 'mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && ' +
  'mount --bind "$0" /run/secrets/kubernetes.io/serviceaccount && exec node "$@"';

interface EventsNode {
  kubelet: KubeletHarness;
  /** Stops the plugin (SIGTERM) and gives its log. */
  stop(): Promise<string>;
}

async function startEventsNode(t: ExecutionContext, server: FakeApiServer, args: string[] = []): Promise<EventsNode> {
  const dir = await tempDir(t, 'nixmount-events-');
  const kubeletDir = join(dir, 'var/lib/kubelet');
  await mkdir(join(kubeletDir, 'pods'), { recursive: true });
  const socket = join(dir, 'csi.sock');
  const serve = [
    CLI, 'serve', '--orchestrator=kubernetes', '--kubernetes-events', `--endpoint=unix://${socket}`, `--node-id=${NODE_NAME}`,
    `--state-dir=${join(dir, 'state')}`, `--kubelet-dir=${kubeletDir}`, '--view-idle=0', ...args,
  ];
  const child: ResultPromise = execa('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', SA_MOUNT, server.serviceAccountDir, ...serve], {
    env: { ...nixEnv, ...server.env, NIXMOUNT_LOG_LEVEL: 'info' },
    reject: false,
  });
  const client = new CsiClient(socket);
  let stopped: Promise<string> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      client.close();
      child.kill('SIGTERM');
      const result = await child;
      return String(result.stderr);
    })());
  t.teardown(async () => {
    await stop();
  });
  for (let attempt = 0; attempt < 200; attempt++) {
    const ready = await client.call('identity', 'Probe', {}, 1000).then((probe) => probe.ready?.value === true, () => false);
    if (ready) return { kubelet: new KubeletHarness({ client, kubeletDir, nodeName: NODE_NAME }), stop };
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nixmount serve did not become ready: ${await stop()}`);
}

/** Waits (bounded) until the server holds an Event for `p` with `reason`. */
async function eventFor(server: FakeApiServer, p: Pod, reason: string, timeoutMs = 20_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = server.list().find((event) => event.involvedObject.name === p.name && event.reason === reason);
    if (found || Date.now() > until) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const nixVolume = (volumeAttributes: Record<string, string>) => [{ name: 'nix', readOnly: true, volumeAttributes }];

test('a real plugin posts every reason on the pod kubelet names, with the fix in the message', async (t) => {
  const server = await FakeApiServer.start(t);
  const fixture = await buildFixture();
  const { kubelet, stop } = await startEventsNode(t, server, ['--allow-sources=paths,expression', '--builds=allowed', `--nix-path=${FIXTURES_DIR}`]);
  const counter = await counterFile(t);
  const pods = {
    ok: pod({ name: 'ok', namespace: 'shop', volumes: nixVolume({ paths: fixture.root }) }),
    typo: pod({ name: 'typo', namespace: 'shop', volumes: nixVolume({ paths: fixture.root, colour: 'blue' }) }),
    flake: pod({ name: 'flake', namespace: 'shop', volumes: nixVolume({ flakeRef: 'github:NixOS/nixpkgs' }) }),
    absent: pod({ name: 'absent', namespace: 'shop', volumes: nixVolume({ paths: '/nix/store/0000000000000000000000000000000a-absent' }) }),
    broken: pod({ name: 'broken', namespace: 'lab', volumes: nixVolume({ expression: countedExpression({ salt: uniqueSalt(), counter, fail: true }) }) }),
    slow: pod({ name: 'slow', namespace: 'lab', volumes: nixVolume({ expression: countedExpression({ salt: uniqueSalt(), counter, sleep: 7 }) }) }),
  };
  const outcomes = await Promise.all(Object.values(pods).map(async (p) => [p.name, (await kubelet.startPod(p)).map((o) => o.code)] as const));
  t.deepEqual(Object.fromEntries(outcomes), {
    ok: [status.OK],
    typo: [status.INVALID_ARGUMENT],
    flake: [status.PERMISSION_DENIED],
    absent: [status.FAILED_PRECONDITION],
    broken: [status.FAILED_PRECONDITION],
    slow: [status.OK],
  });

  const published = await eventFor(server, pods.ok, 'VolumePublished');
  t.like(published, {
    metadata: { namespace: 'shop' },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'ok', namespace: 'shop', uid: pods.ok.uid },
    type: 'Normal',
    source: { component: 'nixmount', host: NODE_NAME },
    count: 1,
  });
  t.regex(
    published.message,
    new RegExp(`^volume nix: mounted ${fixture.closure.length} store paths read-only in \\d+\\.\\d s \\(realise \\d+\\.\\d s, view \\d+\\.\\d s, mount \\d+\\.\\d s\\); the view of this closure was built$`),
  );

  t.like(await eventFor(server, pods.typo, 'InvalidVolume'), {
    type: 'Warning',
    involvedObject: { name: 'typo', uid: pods.typo.uid },
    message:
      'volume nix: unknown volume context key "colour" (known: paths, expression, flakeRef, or a system such as x86_64-linux). ' +
      'Fix: correct the volumeAttributes of the pod\'s csi volume (keys: paths, <system> such as x86_64-linux, expression, flakeRef).',
  });
  t.like(await eventFor(server, pods.flake, 'SourceDenied'), {
    type: 'Warning',
    message:
      'volume nix: the "flakeRef" key is refused by this node\'s source policy (allowed sources do not include flakes; see serve --allow-sources). ' +
      'Fix: name store paths a cache of the node has, or have the cluster admin allow this source on the nodes ' +
      '(nixmount serve --allow-sources, --flake-prefixes, --builds allowed).',
  });
  const absent = await eventFor(server, pods.absent, 'ClosureNotFound');
  t.is(absent?.type, 'Warning');
  t.true(
    absent?.message.startsWith('volume nix: store paths not available on this node or from its substituters: "/nix/store/0000000000000000000000000000000a-absent"'),
    absent?.message,
  );
  t.true(absent?.message.endsWith('. Fix: copy the closure to a binary cache this node substitutes from (nix copy --to <cache> <path>), or correct the store paths in the volume\'s attributes.'));
  const broken = await eventFor(server, pods.broken, 'NixRealiseFailed');
  t.like(broken, { type: 'Warning', metadata: { namespace: 'lab' }, involvedObject: { namespace: 'lab' } });
  t.regex(broken?.message ?? '', /^volume nix: build of \/nix\/store\/[a-z0-9]{32}-nixmount-counted-s[0-9a-f]+\.drv failed; last lines of its log:\n/);
  t.true(broken?.message.endsWith('fatal: the answer is not 42. Fix: repair the derivation (the end of its build log is above), or build it elsewhere and push it to a cache the node substitutes from.'), broken?.message);

  const realising = await eventFor(server, pods.slow, 'NixRealising');
  t.like(realising, { type: 'Normal', involvedObject: { name: 'slow', uid: pods.slow.uid } });
  t.regex(realising?.message ?? '', /^volume nix: preparing its closure for [5-9]\.\d s: realising: building 1\/1 derivations$/);
  t.regex((await eventFor(server, pods.slow, 'VolumePublished'))?.message ?? '', /^volume nix: mounted 1 store path read-only in [7-9]\.\d s \(realise [7-9]\.\d s/);

  // A kubelet retry of a failing mount is the same Event, counted.
  t.deepEqual((await kubelet.startPod(pods.typo)).map((o) => o.code), [status.INVALID_ARGUMENT]);
  const until = Date.now() + 20_000;
  while ((await eventFor(server, pods.typo, 'InvalidVolume')).count < 2 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 200));
  t.is((await eventFor(server, pods.typo, 'InvalidVolume')).count, 2);

  t.deepEqual(server.refusals(), []);
  t.deepEqual(
    server.list().map((event) => `${event.involvedObject.name}:${event.reason}`).sort(),
    ['absent:ClosureNotFound', 'broken:NixRealiseFailed', 'flake:SourceDenied', 'ok:VolumePublished', 'slow:NixRealising', 'slow:VolumePublished', 'typo:InvalidVolume'],
  );
  for (const p of [pods.ok, pods.slow]) t.deepEqual((await kubelet.deletePod(p)).map((o) => o.code), [status.OK]);
  t.regex(await stop(), /posting Kubernetes Events on pods/);
});

test('an API server that fails never fails a publish: the failure is logged', async (t) => {
  const server = await FakeApiServer.start(t);
  server.failure = 'error-500';
  const fixture = await buildFixture();
  const { kubelet, stop } = await startEventsNode(t, server);
  const p = pod({ name: 'steady', namespace: 'shop', volumes: nixVolume({ paths: fixture.root }) });
  t.deepEqual((await kubelet.startPod(p)).map((o) => o.code), [status.OK]);
  const until = Date.now() + 20_000;
  while (server.seen.length === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
  t.deepEqual(server.seen.map((r) => [r.method, r.path, r.status]), [['POST', '/api/v1/namespaces/shop/events', 500]]);
  t.deepEqual((await kubelet.deletePod(p)).map((o) => o.code), [status.OK]);
  const log = await stop();
  t.regex(log, /Kubernetes Events: posting an event failed; the volume is not affected/);
  t.regex(log, /500 etcdserver: request timed out/);
});

test('--kubernetes-events with another orchestrator is a usage error', async (t) => {
  const result = await nixmount(['serve', '--orchestrator=local', '--kubernetes-events']);
  t.is(result.exitCode, 2);
  t.regex(String(result.stderr), /^nixmount serve: --kubernetes-events needs --orchestrator kubernetes: Events are posted on the pods kubelet names\n/);
});

test('outside a pod, --kubernetes-events logs that Events are off and the node serves volumes as usual', async (t) => {
  const dir = await tempDir(t, 'nixmount-events-');
  const kubeletDir = join(dir, 'var/lib/kubelet');
  await mkdir(join(kubeletDir, 'pods'), { recursive: true });
  const socket = join(dir, 'csi.sock');
  const child = execa('node', [
    CLI, 'serve', '--orchestrator=kubernetes', '--kubernetes-events', `--endpoint=unix://${socket}`, `--node-id=${NODE_NAME}`,
    `--state-dir=${join(dir, 'state')}`, `--kubelet-dir=${kubeletDir}`, '--view-idle=0',
  ], { env: { ...nixEnv, KUBERNETES_SERVICE_HOST: '', KUBERNETES_SERVICE_PORT: '', NIXMOUNT_LOG_LEVEL: 'info' }, reject: false });
  const client = new CsiClient(socket);
  t.teardown(() => {
    client.close();
    child.kill('SIGKILL');
  });
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await client.call('identity', 'Probe', {}, 1000).then((probe) => probe.ready?.value === true, () => false)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const kubelet = new KubeletHarness({ client, kubeletDir, nodeName: NODE_NAME });
  const fixture = await buildFixture();
  const p = pod({ name: 'quiet', namespace: 'shop', volumes: nixVolume({ paths: fixture.root }) });
  t.deepEqual((await kubelet.startPod(p)).map((o) => o.code), [status.OK]);
  t.deepEqual((await kubelet.deletePod(p)).map((o) => o.code), [status.OK]);
  client.close();
  child.kill('SIGTERM');
  const result = await child;
  t.is(result.exitCode, 0);
  const off = String(result.stderr).split('\n').filter((line) => line.includes('Kubernetes Events are off')).map((line) => JSON.parse(line));
  t.is(off.length, 1);
  t.is(off[0].err.message, 'KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: nixmount is not running in a pod');
});
