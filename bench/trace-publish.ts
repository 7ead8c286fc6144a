import 'reflect-metadata';
import { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { destination } from 'pino';
import { defaultProtectedDirs } from '../src/adapters/common/paths.js';
import { LocalAdapter } from '../src/adapters/local/local-adapter.js';
import { ClosureSource } from '../src/core/closure-source.js';
import { MountLifecycle } from '../src/core/mount-lifecycle.js';
import { DEFAULT_SOURCE_SETTINGS } from '../src/core/source-settings.js';
import { ViewManager } from '../src/core/view-manager.js';
import { NodeVolumes } from '../src/core/node-volumes.js';
import { VolumePublisher } from '../src/core/volume-publisher.js';
import { CsiClient, mountCapability } from '../src/csi/csi-client.js';
import { ExecaProcessRunner } from '../src/platform/execa-process-runner.js';
import { FsVolumeDirs } from '../src/platform/fs-volume-dirs.js';
import { JsonRecordDir } from '../src/platform/json-record-dir.js';
import { LinuxMounter } from '../src/platform/linux-mounter.js';
import { createLogger } from '../src/platform/pino-logger.js';
import { RunningPlugin } from '../src/running-plugin.js';
import { mountsBelow, unmountBelow } from '../support/mounts.js';
import { HardlinkViewStore } from '../src/platform/hardlink-view-store.js';
import { NixCliStore } from '../src/platform/nix-cli-store.js';
import { ReadOnlyBinds } from '../src/platform/read-only-binds.js';
import { buildSizedClosure, buildSmallClosures } from './closures.js';
import { median } from './stats.js';

/**
 * Where a warm read-only publish and its unpublish spend their wall time, step by
 * step: the plugin runs in this process and its own classes are timed around each
 * call (medians over N pairs, after 10 to warm up). Run:
 *   N=80 node dist/bench/trace-publish.js
 * Steps overlap (a record's sync runs while the mount does), so they do not add up.
 */
const times = new Map<string, number[]>();
const note = (step: string, ms: number) => times.set(step, [...(times.get(step) ?? []), ms]);

function timeEach(prototype: object, names: readonly string[], label: string): void {
  const methods = prototype as Record<string, (...args: unknown[]) => unknown>;
  for (const name of names) {
    const original = methods[name];
    if (typeof original !== 'function') continue;
    methods[name] = function (this: unknown, ...args: unknown[]) {
      const started = performance.now();
      const result = original.apply(this, args);
      if (result instanceof Promise) return result.finally(() => note(`${label}.${name}`, performance.now() - started));
      note(`${label}.${name}`, performance.now() - started);
      return result;
    };
  }
}

timeEach(ChildProcess.prototype, ['spawn'], 'ChildProcess (synchronous part)');
timeEach(LinuxMounter.prototype, ['bindReadOnly', 'topAt', 'unmount'], 'LinuxMounter');
timeEach(ExecaProcessRunner.prototype, ['run'], 'ProcessRunner');
timeEach(JsonRecordDir.prototype, ['put', 'putThen', 'delete'], 'JsonRecordDir');
timeEach(FsVolumeDirs.prototype, ['createTarget', 'removeTarget'], 'FsVolumeDirs');
timeEach(ClosureSource.prototype, ['prepare'], 'ClosureSource');
timeEach(ViewManager.prototype, ['acquire'], 'ViewManager');
timeEach(MountLifecycle.prototype, ['attach', 'detach', 'isMounted'], 'MountLifecycle');
timeEach(NodeVolumes.prototype, ['publish', 'unpublish'], 'NodeVolumes');
timeEach(VolumePublisher.prototype, ['publish', 'unpublish'], 'VolumePublisher');
timeEach(NixCliStore.prototype, ['queryClosure', 'writeRegistration', 'addGcRoots', 'removeGcRoots'], 'NixCliStore');
timeEach(HardlinkViewStore.prototype, ['materialize', 'remove'], 'HardlinkViewStore');
timeEach(ReadOnlyBinds.prototype, ['ensure', 'release'], 'ReadOnlyBinds');
timeEach(ViewManager.prototype, ['collectIfUnheld'], 'ViewManager');

async function main(): Promise<void> {
  const pairs = Number(process.env.N ?? 80);
  const cold = Number(process.env.COLD ?? 0);
  const closures = cold ? [await buildSizedClosure(cold, 5)] : await buildSmallClosures(Math.max(1, Number(process.env.VIEWS ?? 1)));
  const closure = closures[0];
  const dir = await mkdtemp(join(tmpdir(), 'nixmount-trace-'));
  const stateDir = join(dir, 'state');
  const socket = join(dir, 'csi.sock');
  const settings = { driverName: 'nixmount.trace', driverVersion: '0', nodeId: 'trace', stateDir, viewIdleMs: 0 };
  const plugin = await RunningPlugin.start(
    {
      settings,
      nix: { storeUri: '', substituters: [], connectTimeoutSec: 2 },
      sources: DEFAULT_SOURCE_SETTINGS,
      adapter: new LocalAdapter('trace', { protectedDirs: defaultProtectedDirs(stateDir, '/') }),
      logger: createLogger({ level: 'info', destination: destination('/dev/null') }),
    },
    `unix://${socket}`,
  );
  const client = new CsiClient(socket);
  const publish = (id: string, target: string, root = closure!.root) =>
    client.call('node', 'NodePublishVolume', {
      volume_id: id,
      target_path: target,
      volume_capability: mountCapability('MULTI_NODE_READER_ONLY'),
      readonly: true,
      volume_context: { paths: root },
    });
  try {
    await mkdir(join(dir, 't/anchor'), { recursive: true });
    if (!cold) await publish('anchor', join(dir, 't/anchor/mount')); // holds the view: every pair below is warm
    for (let i = 0; i < Number(process.env.HELD ?? 0); i++) {
      await mkdir(join(dir, `held/${i}`), { recursive: true });
      await publish(`held-${i}`, join(dir, `held/${i}/mount`), closures[i % closures.length]!.root);
    }
    for (let i = 0; i < pairs + 10; i++) {
      if (i === 10) times.clear();
      const target = join(dir, `t/${i}/mount`);
      await mkdir(join(target, '..'), { recursive: true });
      let started = performance.now();
      await publish(`v${i}`, target);
      note('publish, as the CSI client sees it', performance.now() - started);
      started = performance.now();
      await client.call('node', 'NodeUnpublishVolume', { volume_id: `v${i}`, target_path: target });
      note('unpublish, as the CSI client sees it', performance.now() - started);
    }
    console.log(`${cold ? `cold (${cold} files)` : 'warm'} read-only publish/unpublish, ${pairs} pairs: median ms, calls per pair, step`);
    for (const [step, ms] of [...times].sort(([a], [b]) => a.localeCompare(b))) {
      console.log(`${median(ms).toFixed(2).padStart(8)}  ×${(ms.length / pairs).toFixed(0)}  ${step}`);
    }
  } finally {
    client.close();
    await plugin.stop();
    await unmountBelow(dir);
    if ((await mountsBelow(dir)).length === 0) await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
