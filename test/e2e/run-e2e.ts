// `npm run test:e2e`: the nixmount image as a DaemonSet on a real single-node Kubernetes
// (NIXMOUNT_E2E_K8S), pods mounting closures from it, and the cluster's own faults, each
// followed by the same three checks. One `ok N name` / `not ok N name` line per scenario.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseAllDocuments, stringify } from 'yaml';
import { assertNodeClean } from '../helpers/node-clean.js';
import { nixEnv } from '../helpers/nix.js';
import { parseMountInfo } from '../../src/platform/mountinfo.js';
import { findCluster, type Cluster } from './cluster.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/src/cli.js');
const NAMESPACE = 'nixmount';
const DRIVER = 'nixmount.csi.nixos.dev';
const STATE_DIR = '/nix/var/nixmount';
const APPS = 'e2e';

interface Fixture {
  root: string;
  closure: string[];
  greeting: string;
}

let passed = 0;
let failed = 0;
let counter = 0;
/** Times measured during the running scenario, printed under its `ok` line (never asserted). */
let notes: string[] = [];

function note(line: string): void {
  notes.push(line);
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

async function scenario(name: string, body: () => Promise<void>): Promise<boolean> {
  const number = ++counter;
  const started = Date.now();
  notes = [];
  const printNotes = () => {
    for (const line of notes) console.log(`#   ${line}`);
  };
  try {
    await body();
    passed++;
    console.log(`ok ${number} ${name} (${seconds(started)})`);
    printNotes();
    return true;
  } catch (error) {
    failed++;
    console.log(`not ok ${number} ${name}`);
    printNotes();
    for (const line of String(error instanceof Error ? (error.stack ?? error.message) : error).split('\n').slice(0, 12)) console.log(`#   ${line}`);
    return false;
  }
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last: ${String(last).slice(0, 300)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

async function buildFixture(): Promise<Fixture> {
  const salt = `e2e${process.pid}`;
  const { stdout } = await execa('nix-build', [join(ROOT, 'test/fixtures/closure.nix'), '--no-out-link', '--argstr', 'salt', salt], { env: nixEnv });
  const root = stdout.trim().split('\n').pop()!;
  const closure = (await execa('nix-store', ['-qR', root], { env: nixEnv })).stdout.trim().split('\n').sort();
  return { root, closure, greeting: `greetings from the data path ${salt}` };
}

/** The manifests `nixmount k8s manifests` renders for this cluster: its kubelet root, its sidecar images. */
async function manifests(cluster: Cluster, image: string): Promise<string> {
  const { stdout } = await execa('node', [
    CLI, 'k8s', 'manifests', '--image', image, '--kubelet-dir', cluster.kubeletRoot,
    '--registrar-image', cluster.registrarImage, '--livenessprobe-image', cluster.livenessProbeImage,
    '--kubernetes-events', '--pod-store-paths',
  ]);
  // Nothing is pulled here: every image is imported into containerd beforehand.
  const docs = parseAllDocuments(stdout).map((doc) => doc.toJS());
  for (const doc of docs) {
    for (const container of doc?.spec?.template?.spec?.containers ?? []) container.imagePullPolicy = 'Never';
    // This cluster has no kube-proxy and its API server listens on 127.0.0.1 only: the node
    // plugin reaches it (for Events and podStorePaths) on the host's network, where a real
    // cluster's pods reach the kubernetes Service.
    if (doc?.kind === 'DaemonSet') {
      doc.spec.template.spec.hostNetwork = true;
      const plugin = doc.spec.template.spec.containers.find((container: { name: string }) => container.name === 'nixmount');
      plugin.env = [...(plugin.env ?? []), { name: 'KUBERNETES_SERVICE_HOST', value: '127.0.0.1' }, { name: 'KUBERNETES_SERVICE_PORT', value: cluster.env.API_PORT }];
    }
  }
  return docs.map((doc) => stringify(doc)).join('---\n');
}

interface PodOptions {
  readOnly?: boolean;
  attributes?: Record<string, string>;
  command: string[];
  restartPolicy?: 'Never' | 'Always';
}

function podYaml(name: string, options: PodOptions): string {
  const readOnly = options.readOnly ?? true;
  return stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: APPS },
    spec: {
      restartPolicy: options.restartPolicy ?? 'Never',
      terminationGracePeriodSeconds: 1,
      containers: [
        { name: 'app', image: 'localhost/busybox:local', imagePullPolicy: 'Never', command: options.command, volumeMounts: [{ name: 'nix', mountPath: '/nix', readOnly }] },
      ],
      volumes: [{ name: 'nix', csi: { driver: DRIVER, readOnly, volumeAttributes: options.attributes ?? {} } }],
    },
  });
}

class E2e {
  private resident: string[] = [];
  private made = 0;

  get residentNames(): readonly string[] {
    return this.resident;
  }

  constructor(
    readonly cluster: Cluster,
    readonly fixture: Fixture,
  ) {}

  get greetingPath(): string {
    return `${this.fixture.closure.find((path) => path.includes('fixture-data'))!}/share/greeting`;
  }

  async apply(yaml: string): Promise<void> {
    await this.cluster.kubectl(['apply', '-f', '-'], { input: yaml });
  }

  async phase(name: string): Promise<string> {
    return (await this.cluster.kubectl(['get', 'pod', '-n', APPS, name, '-o', 'jsonpath={.status.phase}'])).stdout;
  }

  /** A one-shot pod whose entrypoint is the closure's program; answers its log. */
  async runOnce(label: string, options: Partial<PodOptions> = {}): Promise<string> {
    const name = `${label}-${++this.made}`;
    const started = Date.now();
    await this.apply(podYaml(name, { command: [`${this.fixture.root}/bin/hello`], attributes: { paths: this.fixture.root }, ...options }));
    try {
      await waitFor(`pod ${name} Succeeded`, async () => {
        const phase = await this.phase(name);
        if (phase === 'Failed') throw new Error(`pod ${name} Failed: ${await this.describe(name)}`);
        return phase === 'Succeeded';
      }, 180_000, 2000).catch(async (error: Error) => {
        throw new Error(`${error.message}; its events: ${await this.describe(name)}`);
      });
      note(`pod ${name}: applied to Succeeded in ${seconds(started)}`);
      return (await this.cluster.kubectl(['logs', '-n', APPS, name])).stdout.trim();
    } finally {
      await this.cluster.kubectl(['delete', 'pod', '-n', APPS, name, '--wait=true', '--timeout=120s'], { reject: false });
    }
  }

  /** A pod that stays up and keeps the volume mounted. */
  async startResident(label: string, readOnly: boolean): Promise<string> {
    const name = `${label}-${++this.made}`;
    const started = Date.now();
    await this.apply(podYaml(name, { readOnly, command: ['/bin/sh', '-c', 'exec sleep 100000'], attributes: { paths: this.fixture.root }, restartPolicy: 'Always' }));
    await this.cluster.kubectl(['wait', '--for=condition=Ready', `pod/${name}`, '-n', APPS, '--timeout=180s'], { timeoutMs: 200_000 });
    note(`pod ${name} (${readOnly ? 'read-only' : 'read-write'}): applied to Ready in ${seconds(started)}`);
    this.resident.push(name);
    return name;
  }

  /**
   * Deletes the resident pods and waits until kubelet has torn their volumes down (their pod
   * directories gone) and the node holds nothing of them; then starts fresh ones in their place.
   */
  async replaceResidents(): Promise<void> {
    const old = [...this.resident];
    const uids: string[] = [];
    for (const name of old) uids.push((await this.cluster.kubectl(['get', 'pod', '-n', APPS, name, '-o', 'jsonpath={.metadata.uid}'])).stdout);
    for (const name of old) await this.cluster.kubectl(['delete', 'pod', '-n', APPS, name, '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 });
    this.resident = [];
    await waitFor('the old resident pods\' directories removed by kubelet', async () => uids.every((uid) => !existsSync(join(this.cluster.kubeletRoot, 'pods', uid))), 180_000, 2000).catch(async (error: Error) => {
      const left = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((entry) => uids.some((uid) => entry.mountPoint.includes(uid)));
      throw new Error(`${error.message}; mounts left there: ${left.map((entry) => `${entry.mountPoint} (${entry.fsType} ${entry.root})`).join(', ') || 'none'}`);
    });
    await this.nothingStale();
    for (const name of old) await this.startResident(name.replace(/-\d+$/, ''), !name.startsWith('resident-rw'));
  }

  /** A resident pod that is gone (force-deleted): no longer checked. */
  forget(name: string): void {
    this.resident = this.resident.filter((pod) => pod !== name);
  }

  async describe(name: string): Promise<string> {
    const { stdout } = await this.cluster.kubectl(['get', 'events', '-n', APPS, '--field-selector', `involvedObject.name=${name}`, '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}'], { reject: false });
    return stdout.trim().split('\n').slice(-6).join(' | ');
  }

  /** The three checks after every fault: resident pods read, a new pod mounts, nothing stale. */
  async afterFault(): Promise<void> {
    for (const name of this.resident) {
      const read = await waitFor(`resident pod ${name} reads its closure`, async () => {
        const { stdout, exitCode } = await this.cluster.kubectl(['exec', '-n', APPS, name, '--', 'cat', this.greetingPath], { reject: false });
        return exitCode === 0 && stdout;
      }, 120_000, 2000);
      check(read.trim() === this.fixture.greeting, `resident pod ${name} read ${JSON.stringify(read)}`);
    }
    const log = await this.runOnce('new');
    check(log === this.fixture.greeting, `a new pod printed ${JSON.stringify(log)}`);
    await this.nothingStale();
  }

  async residentTargets(): Promise<string[]> {
    const targets: string[] = [];
    for (const name of this.resident) {
      const uid = (await this.cluster.kubectl(['get', 'pod', '-n', APPS, name, '-o', 'jsonpath={.metadata.uid}'])).stdout;
      targets.push(join(this.cluster.kubeletRoot, 'pods', uid, 'volumes/kubernetes.io~csi/nix/mount'));
    }
    return targets;
  }

  async pluginPod(): Promise<{ name: string; containerId: string; image: string }> {
    return waitFor('the nixmount node pod Ready', async () => {
      const { stdout } = await this.cluster.kubectl(['get', 'pods', '-n', NAMESPACE, '-l', 'app.kubernetes.io/component=node-plugin', '-o', 'json']);
      const pods = (JSON.parse(stdout) as { items: any[] }).items.filter((pod) => !pod.metadata.deletionTimestamp);
      const ready = pods.find((pod) => (pod.status.containerStatuses ?? []).length === 3 && pod.status.containerStatuses.every((status: any) => status.ready));
      if (!ready) return undefined;
      const id = ready.status.containerStatuses.find((status: any) => status.name === 'nixmount').containerID as string;
      const image = ready.spec.containers.find((container: any) => container.name === 'nixmount').image as string;
      return { name: ready.metadata.name as string, containerId: id.replace(/^containerd:\/\//, ''), image };
    }, 240_000, 2000);
  }

  /** Waits for a Ready plugin pod whose nixmount container is not `previous`; notes how long since `since`. */
  async pluginRestarted(previous: string, since: number): Promise<{ name: string; containerId: string; image: string }> {
    const now = await waitFor('the nixmount container replaced and Ready', async () => {
      const pod = await this.pluginPod();
      return pod.containerId !== previous && pod;
    }, 240_000, 1000);
    note(`plugin: fault to a new container 3/3 Ready in ${seconds(since)}`);
    return now;
  }

  /** The nixmount container's log (of its current run), for what the plugin reports. */
  async pluginLog(): Promise<string> {
    const { name } = await this.pluginPod();
    return (await this.cluster.kubectl(['logs', '-n', NAMESPACE, name, '-c', 'nixmount'], { timeoutMs: 60_000 })).stdout;
  }

  /** No mount, record, view, GC root or overlay without an owner, read in the plugin's own mount namespace. */
  async nothingStale(): Promise<void> {
    const { containerId } = await this.pluginPod();
    const pids = (await this.cluster.ctr(['tasks', 'ps', containerId])).split('\n').slice(1).map((line) => Number(line.trim().split(/\s+/)[0])).filter((pid) => pid > 0);
    const serve = await waitFor('the plugin\'s serve process', async () => {
      for (const pid of pids) {
        const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (argv.split('\0').includes('serve')) return pid;
      }
      return undefined;
    }, 30_000);
    const problems: string[] = [];
    const context = {
      deepEqual: (actual: unknown, expected: unknown, message: string) => {
        if (JSON.stringify(actual) !== JSON.stringify(expected)) problems.push(`${message}: ${JSON.stringify(actual).slice(0, 400)}`);
      },
      is: (actual: unknown, expected: unknown, message: string) => {
        if (actual !== expected) problems.push(`${message}: ${String(actual)} is not ${String(expected)}`);
      },
    };
    await assertNodeClean(context as never, { stateDir: STATE_DIR, liveTargets: await this.residentTargets(), mountInfoFile: `/proc/${serve}/mountinfo`, allowPids: pids });
    check(problems.length === 0, `stale: ${problems.join('; ')}`);
  }
}

async function main(): Promise<number> {
  const cluster = await findCluster();
  if (typeof cluster === 'string') {
    console.log(`not ok 1 the single-node cluster\n#   ${cluster}`);
    console.log('0 passed, 1 failed');
    return 1;
  }
  const image = process.env.NIXMOUNT_E2E_IMAGE ?? (await imageName());
  try {
    await cluster.up();
    let e2e: E2e | undefined;
    const installed = await scenario('the image as a DaemonSet: imported, applied from `k8s manifests`, 3/3 Ready, registered in CSINode', async () => {
      if (process.env.NIXMOUNT_E2E_IMAGE === undefined && (await execa('podman', ['image', 'exists', image], { reject: false })).exitCode !== 0) {
        await execa('npm', ['run', 'image'], { cwd: ROOT, stdio: 'inherit' });
      }
      const archive = join(process.env.TMPDIR ?? '/tmp', `nixmount-e2e-image-${process.pid}.tar`);
      await execa('podman', ['save', '--format', 'docker-archive', '-o', archive, image]);
      await cluster.ctr(['images', 'import', archive]);
      await execa('rm', ['-f', archive]);
      await cluster.kubectl(['create', 'namespace', APPS], { reject: false });
      const fixture = await buildFixture();
      e2e = new E2e(cluster, fixture);
      await e2e.apply(await manifests(cluster, image));
      await e2e.pluginPod();
      await waitFor('CSINode registration', async () => {
        const { stdout } = await cluster.kubectl(['get', 'csinode', cluster.nodeName, '-o', 'jsonpath={.spec.drivers[*].name}'], { reject: false });
        return stdout.split(' ').includes(DRIVER);
      }, 120_000, 2000).catch(async (error: Error) => {
        // A kubelet the plugin cannot serve (one before 1.26) is named on its Node: what the user sees is the failure's reason.
        const refusal = await nodeEvent(cluster, 'CsiCallsRefused');
        throw new Error(refusal ? `${error.message}; the Node's Warning Event CsiCallsRefused says: ${refusal}` : error.message);
      });
    });
    if (!installed || !e2e) return finish();
    const t = e2e;
    await scenario('a read-only volume: the closure\'s program is the entrypoint of a near-empty image', async () => {
      const log = await t.runOnce('ro');
      check(log === t.fixture.greeting, `printed ${JSON.stringify(log)}`);
    });
    await scenario('a read-write volume: the pod writes into its /nix, the store stays untouched', async () => {
      const log = await t.runOnce('rw', { readOnly: false, command: ['/bin/sh', '-c', `echo mine > /nix/mine && cat /nix/mine && ${t.fixture.root}/bin/hello`] });
      check(log === `mine\n${t.fixture.greeting}`, `printed ${JSON.stringify(log)}`);
    });
    await scenario('podStorePaths: a volume naming no paths gets the closure of the program the pod runs', async () => {
      const log = await t.runOnce('podpaths', { attributes: { podStorePaths: 'true' } });
      check(log === t.fixture.greeting, `printed ${JSON.stringify(log)}`);
    });
    await scenario('a bad volume attribute: a FailedMount event names the key', async () => {
      const name = 'bad-volume';
      await t.apply(podYaml(name, { command: ['/bin/true'], attributes: { pahts: t.fixture.root } }));
      const said = await waitFor('a FailedMount event', async () => {
        const events = await t.describe(name);
        return /FailedMount/.test(events) && events;
      }, 120_000, 2000);
      check(/unknown volume context key "pahts"/.test(said), `events: ${said}`);
      await cluster.kubectl(['delete', 'pod', '-n', APPS, name, '--wait=true', '--timeout=120s']);
    });
    await scenario('resident pods (read-only and read-write) and a clean node', async () => {
      await t.startResident('resident-ro', true);
      await t.startResident('resident-rw', false);
      await t.afterFault();
    });
    await scenario('chaos: the plugin pod deleted (the DaemonSet recreates it)', async () => {
      const { name, containerId } = await t.pluginPod();
      const started = Date.now();
      await cluster.kubectl(['delete', 'pod', '-n', NAMESPACE, name, '--wait=true', '--timeout=120s']);
      await t.pluginRestarted(containerId, started);
      await t.afterFault();
    });
    await scenario('chaos: the plugin container killed with SIGKILL', async () => {
      const { containerId } = await t.pluginPod();
      const started = Date.now();
      await cluster.ctr(['tasks', 'kill', '--signal', 'SIGKILL', containerId]);
      await t.pluginRestarted(containerId, started);
      await t.afterFault();
    });
    await scenario('chaos: a rolling update of the DaemonSet to a new image tag, volumes live', async () => {
      const before = await t.pluginPod();
      // The same image under a second tag: the DaemonSet's template changes, so the controller
      // replaces the pod (maxUnavailable 1) exactly as for a new release.
      const rolled = `${before.image}-rolled`;
      await cluster.ctr(['images', 'tag', '--force', before.image, rolled]);
      const started = Date.now();
      await t.apply(await manifests(cluster, rolled));
      await cluster.kubectl(['rollout', 'status', 'daemonset/nixmount-node', '-n', NAMESPACE, '--timeout=240s'], { timeoutMs: 260_000 });
      const after = await t.pluginRestarted(before.containerId, started);
      check(after.name !== before.name && after.image === rolled, `after the rollout the plugin pod is ${after.name} (${after.image}); before it was ${before.name} (${before.image})`);
      await t.afterFault();
    });
    await scenario('chaos: kubelet restarted', async () => {
      await cluster.restart('kubelet');
      await waitFor('node Ready again', async () => {
        const { stdout } = await cluster.kubectl(['get', 'node', cluster.nodeName, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], { reject: false });
        return stdout === 'True';
      }, 120_000, 2000);
      await t.afterFault();
    });
    await scenario('chaos: csi.sock deleted under the running plugin', async () => {
      await execa('rm', ['-f', join(cluster.kubeletRoot, 'plugins', DRIVER, 'csi.sock')]);
      await t.afterFault();
    });
    await scenario('chaos: the plugin\'s state dir wiped (rm -rf on the node) while volumes are live', async () => {
      // In the node's own mount namespace nothing is mounted below the state dir (the views' binds
      // are private to the plugin's), so this rm cannot reach into a mount such as the store: it
      // removes what the kernel lets it and leaves the directories live volumes are mounted on.
      const below = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((entry) => entry.mountPoint === STATE_DIR || entry.mountPoint.startsWith(`${STATE_DIR}/`));
      check(below.length === 0, `mounts below ${STATE_DIR} in the node's namespace: ${below.map((entry) => entry.mountPoint).join(', ')}`);
      const { containerId } = await t.pluginPod();
      const wiped = await execa('rm', ['-rf', STATE_DIR], { reject: false });
      note(`rm -rf ${STATE_DIR}: exit ${wiped.exitCode}, ${wiped.stderr.split('\n').filter(Boolean).length} entries it could not remove (mount points of live volumes)`);
      // What it cannot give back it says: one error naming the wipe, the records written back
      // from memory, and the read-write volume whose overlay directory (its writes) went with it.
      const wipedAt = Date.now();
      const report = await waitFor('the plugin\'s report of the wipe', async () => {
        for (const line of (await t.pluginLog()).split('\n')) {
          if (line.includes('content was removed under the running plugin')) return JSON.parse(line) as { volumesRewritten: number; lockTakenAgain: boolean; readWriteVolumesWithoutOverlayDir?: string[] };
        }
        return undefined;
      }, 60_000, 2000);
      note(`plugin: wipe reported after ${seconds(wipedAt)}`);
      const targets = await t.residentTargets();
      check(report.volumesRewritten === targets.length && report.lockTakenAgain, `the report: ${JSON.stringify(report)}`);
      check(JSON.stringify(report.readWriteVolumesWithoutOverlayDir) === JSON.stringify([targets[1]]), `read-write volumes named as lost: ${JSON.stringify(report.readWriteVolumesWithoutOverlayDir)}; the residents: ${targets.join(', ')}`);
      await t.afterFault();
      const restarted = (await t.pluginPod()).containerId !== containerId;
      note(`the plugin container ${restarted ? 'was restarted' : 'kept running'}`);
      // The volumes whose records went with the wipe still unpublish: nothing of them is left.
      await t.replaceResidents();
      await t.afterFault();
    });
    await scenario('chaos: a pod force-deleted (--grace-period=0 --force)', async () => {
      const name = await t.startResident('forced', true);
      await cluster.kubectl(['delete', 'pod', '-n', APPS, name, '--grace-period=0', '--force'], { reject: false });
      t.forget(name);
      // kubelet tears the volume down once it notices the pod is gone.
      await waitFor('the forced pod\'s volume unpublished', async () => {
        await t.nothingStale();
        return true;
      }, 180_000, 5000);
      await t.afterFault();
    });
    await scenario('chaos: containerd restarted', async () => {
      await cluster.restart('containerd');
      await t.afterFault();
    });
    await scenario('chaos: the node rebooted (every component stopped, every mount under the kubelet root gone, all started again)', async () => {
      const { containerId } = await t.pluginPod();
      const poweredOff = Math.floor(Date.now() / 1000) * 1000;
      // K8S_DOWN_FAST: no pod is deleted first; containers are killed, mounts dropped, as a power cut does.
      await cluster.down({ K8S_DOWN_FAST: '1' });
      const left = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((entry) => [cluster.kubeletRoot, STATE_DIR].some((dir) => entry.mountPoint === dir || entry.mountPoint.startsWith(`${dir}/`)));
      check(left.length === 0, `mounts a reboot would have taken: ${left.map((entry) => entry.mountPoint).join(', ')}`);
      const started = Date.now();
      // K8S_KEEP_STATE: etcd keeps its data, so the same pods come back on the node.
      await cluster.up({ K8S_KEEP_STATE: '1' });
      note(`cluster up again in ${seconds(started)}`);
      await t.pluginRestarted(containerId, started);
      // Until kubelet reports again, the API server still shows the pods as they were before.
      for (const name of t.residentNames) {
        await waitFor(`resident pod ${name} running again since the reboot`, async () => {
          const { stdout } = await cluster.kubectl(['get', 'pod', '-n', APPS, name, '-o', 'json']);
          const pod = JSON.parse(stdout) as { status: { conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ state: { running?: { startedAt: string } } }> } };
          const since = pod.status.containerStatuses?.[0]?.state.running?.startedAt;
          const ready = pod.status.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True');
          return ready && since !== undefined && Date.parse(since) >= poweredOff;
        }, 240_000, 2000);
      }
      note(`resident pods running again ${seconds(started)} after power-on`);
      await t.afterFault();
    });
    return finish();
  } finally {
    await cluster.down();
  }
}

/** The message of the newest Event with `reason` on the node's Node object, if any. */
async function nodeEvent(cluster: Cluster, reason: string): Promise<string | undefined> {
  const { stdout } = await cluster.kubectl(
    ['get', 'events', '-n', 'default', '--field-selector', `involvedObject.kind=Node,involvedObject.name=${cluster.nodeName},reason=${reason}`, '-o', 'json'],
    { reject: false },
  );
  try {
    const items = (JSON.parse(stdout) as { items?: { message?: string; count?: number }[] }).items ?? [];
    const last = items.at(-1);
    return last?.message ? `${last.message} (count ${last.count ?? 1})` : undefined;
  } catch {
    return undefined;
  }
}

function finish(): number {
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

async function imageName(): Promise<string> {
  const { stdout } = await execa('bash', ['-c', '. scripts/image-config.sh && echo "$IMAGE"'], { cwd: ROOT });
  return stdout.trim();
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.log(`not ok ${counter + 1} the e2e run itself\n#   ${String(error instanceof Error ? error.stack : error).split('\n').join('\n#   ')}`);
    console.log(`${passed} passed, ${failed + 1} failed`);
    process.exit(1);
  },
);
