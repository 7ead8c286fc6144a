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
import { MountHelper } from '../src/platform/mount-helper.js';
import { ReadOnlyBinds } from '../src/platform/read-only-binds.js';
import { VIEW_MODES, type ViewMode } from '../src/core/view-presentation.js';
import { buildSizedClosure, buildSmallClosures } from './closures.js';
import { BENCH_NIX_ENV } from './commands.js';
import { median } from './stats.js';

/**
 * Where a warm read-only publish and its unpublish spend their wall time, step by
 * step: the plugin runs in this process and its own classes are timed around each
 * call (medians over N pairs, after 10 to warm up). Run:
 *   N=80 node dist/bench/trace-publish.js
 * Steps overlap (a record's sync runs while the mount does), so they do not add up.
 * COLD=<files> times cold publishes of a generated closure of that many files over
 * PATHS store paths (default 5) instead; VIEW_MODE=hardlink|bind-farm|auto (default auto)
 * picks the presentation. Each Nix process is timed by what it does.
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
// Each Nix process by what it does (path-info, --load-db…), so a cold publish's fixed costs show apart.
const runProcess = ExecaProcessRunner.prototype.run;
ExecaProcessRunner.prototype.run = function (this: ExecaProcessRunner, command, args, ...rest) {
  const started = performance.now();
  const what = `${command} ${args.find((arg) => arg === 'path-info' || arg.startsWith('--load-db') || arg.startsWith('--query') || arg.startsWith('--add-root')) ?? args[0] ?? ''}`;
  return runProcess.call(this, command, args, ...rest).finally(() => note(`process: ${what}`, performance.now() - started));
};
timeEach(JsonRecordDir.prototype, ['put', 'putThen', 'delete'], 'JsonRecordDir');
timeEach(FsVolumeDirs.prototype, ['createTarget', 'removeTarget'], 'FsVolumeDirs');
timeEach(ClosureSource.prototype, ['prepare'], 'ClosureSource');
timeEach(ViewManager.prototype, ['acquire'], 'ViewManager');
timeEach(MountLifecycle.prototype, ['attach', 'detach', 'isMounted'], 'MountLifecycle');
timeEach(NodeVolumes.prototype, ['publish', 'unpublish'], 'NodeVolumes');
timeEach(VolumePublisher.prototype, ['publish', 'unpublish'], 'VolumePublisher');
timeEach(NixCliStore.prototype, ['queryClosure', 'writeRegistration', 'addGcRoots', 'removeGcRoots'], 'NixCliStore');
timeEach(HardlinkViewStore.prototype, ['materialize', 'remove', 'hardlinkAll', 'linkResult'], 'HardlinkViewStore');
timeEach(MountHelper.prototype, ['bindReadOnlyMany', 'unmountMany', 'bindPrivate', 'bindTree', 'bindTreeReadOnly', 'unmountTree', 'bind', 'unmount'], 'MountHelper');
timeEach(ReadOnlyBinds.prototype, ['ensure', 'release'], 'ReadOnlyBinds');
timeEach(ViewManager.prototype, ['collectIfUnheld'], 'ViewManager');

async function main(): Promise<void> {
  const pairs = Number(process.env.N ?? 80);
  const cold = Number(process.env.COLD ?? 0);
  const closures = cold ? [await buildSizedClosure(cold, Number(process.env.PATHS ?? 5))] : await buildSmallClosures(Math.max(1, Number(process.env.VIEWS ?? 1)));
  const closure = closures[0];
  const dir = await mkdtemp(join(tmpdir(), 'nixmount-trace-'));
  const stateDir = join(dir, 'state');
  const socket = join(dir, 'csi.sock');
  const viewMode = (process.env.VIEW_MODE ?? 'auto') as ViewMode;
  if (!VIEW_MODES.includes(viewMode)) throw new Error(`VIEW_MODE: "${viewMode}" is none of auto, bind-farm, hardlink`);
  const settings = { driverName: 'nixmount.trace', driverVersion: '0', nodeId: 'trace', stateDir, viewIdleMs: 0, viewMode };
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
    console.log(`${cold ? `cold (${closure!.files} files, ${closure!.paths.length} paths)` : 'warm'} read-only, --view-mode ${viewMode} publish/unpublish, ${pairs} pairs: median ms, calls per pair, step`);
    for (const [step, ms] of [...times].sort(([a], [b]) => a.localeCompare(b))) {
      console.log(`${median(ms).toFixed(2).padStart(8)}  ×${(ms.length / pairs).toFixed(0)}  ${step}`);
    }
    if (cold) await registrationAlone(closure!.paths, dir, pairs);
  } finally {
    client.close();
    await plugin.stop();
    await unmountBelow(dir);
    if ((await mountsBelow(dir)).length === 0) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * What a view's registration costs as a process, outside the publish: a bare Nix start
 * (`nix-store --version`) against `nix-store --load-db` writing the closure's
 * registration into a fresh database, alternating, `runs` each. Their difference is
 * the SQLite work; the start is what writing the database in process would save.
 */
async function registrationAlone(paths: readonly string[], dir: string, runs: number): Promise<void> {
  const env = { NIX_CONFIG: `${BENCH_NIX_ENV.NIX_CONFIG}\ngc-reserved-space = 0` };
  const runner = new ExecaProcessRunner(createLogger({ level: 'silent' }));
  const input = (await runner.run('nix-store', ['--dump-db', ...paths], { env })).stdout;
  const version: number[] = [];
  const load: number[] = [];
  for (let i = 0; i < runs; i++) {
    let started = performance.now();
    await runner.run('nix-store', ['--version'], { env });
    version.push(performance.now() - started);
    const root = join(dir, `db-${i}`);
    started = performance.now();
    await runner.run('nix-store', ['--store', `local?root=${root}`, '--load-db'], { env, input });
    load.push(performance.now() - started);
    await rm(root, { recursive: true, force: true });
  }
  console.log(`alone, ${runs} each, alternating (${paths.length} paths, ${input.length} bytes of registration):`);
  console.log(`${median(version).toFixed(2).padStart(8)}  nix-store --version (a Nix process starting and exiting)`);
  console.log(`${median(load).toFixed(2).padStart(8)}  nix-store --load-db into a fresh database`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
