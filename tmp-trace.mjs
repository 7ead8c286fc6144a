// Ad-hoc: where a warm read-only publish's wall time goes, in process.
import 'reflect-metadata';
import { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { destination } from 'pino';
const D = process.env.D ?? '/work/wt-perf/dist';
const { RunningPlugin } = await import(`${D}/src/running-plugin.js`);
const { LocalAdapter } = await import(`${D}/src/adapters/local/local-adapter.js`);
const { defaultProtectedDirs } = await import(`${D}/src/adapters/common/paths.js`);
const { DEFAULT_SOURCE_SETTINGS } = await import(`${D}/src/core/source-settings.js`);
const { createLogger } = await import(`${D}/src/platform/pino-logger.js`);
const { CsiClient, mountCapability } = await import(`${D}/src/csi/csi-client.js`);
const { buildSmallClosures } = await import(`${D}/bench/closures.js`);
const { unmountBelow } = await import(`${D}/support/mounts.js`);
const times = new Map();
const note = (k, ms) => { if (!times.has(k)) times.set(k, []); times.get(k).push(ms); };
function wrap(proto, name, label) {
  const orig = proto[name];
  if (!orig) return;
  proto[name] = function (...a) {
    const t0 = performance.now();
    const r = orig.apply(this, a);
    if (r && typeof r.then === 'function') return r.finally(() => note(label, performance.now() - t0));
    note(label, performance.now() - t0); return r;
  };
}
wrap(ChildProcess.prototype, 'spawn', 'sync ChildProcess.spawn');
const mods = [
  [`${D}/src/platform/linux-mounter.js`, 'LinuxMounter', ['bindReadOnly', 'topAt', 'unmount']],
  [`${D}/src/platform/read-only-binds.js`, 'ReadOnlyBinds', ['ensure']],
  [`${D}/src/platform/execa-process-runner.js`, 'ExecaProcessRunner', ['run']],
  [`${D}/src/platform/json-record-dir.js`, 'JsonRecordDir', ['put', 'putThen', 'delete', 'deleteThen']],
  [`${D}/src/platform/fs-volume-dirs.js`, 'FsVolumeDirs', ['createTarget', 'removeTarget']],
  [`${D}/src/core/closure-source.js`, 'ClosureSource', ['prepare']],
  [`${D}/src/core/view-manager.js`, 'ViewManager', ['acquire', 'collectIfUnheld']],
  [`${D}/src/core/mount-lifecycle.js`, 'MountLifecycle', ['attach', 'detach']],
  [`${D}/src/core/volume-publisher.js`, 'VolumePublisher', ['publish', 'unpublish']],
];
for (const [file, cls, names] of mods) { const m = await import(file).catch(() => undefined); if (!m) continue; for (const n of names) wrap(m[cls].prototype, n, `${cls}.${n}`); }
const [closure] = await buildSmallClosures(1);
const dir = await mkdtemp('/tmp/nixmount-trace-');
const stateDir = join(dir, 'state');
const settings = { driverName: 'nixmount.trace', driverVersion: '0', nodeId: 'n', stateDir, viewIdleMs: 0 };
const plugin = await RunningPlugin.start({ settings, nix: { storeUri: '', substituters: [], connectTimeoutSec: 2 }, sources: DEFAULT_SOURCE_SETTINGS,
  adapter: new LocalAdapter('n', { protectedDirs: defaultProtectedDirs(stateDir, '/') }), logger: createLogger({ level: 'info', destination: destination('/dev/null') }) }, `unix://${join(dir, 'csi.sock')}`);
const client = new CsiClient(join(dir, 'csi.sock'));
const req = (id, target) => ({ volume_id: id, target_path: target, volume_capability: mountCapability('MULTI_NODE_READER_ONLY'), readonly: true, volume_context: { paths: closure.root } });
try {
  await mkdir(join(dir, 't/anchor'), { recursive: true });
  await client.call('node', 'NodePublishVolume', req('anchor', join(dir, 't/anchor/m')));
  const N = Number(process.env.N ?? 60);
  for (let i = 0; i < N; i++) {
    if (i === 10) times.clear();
    await mkdir(join(dir, `t/w${i}`), { recursive: true });
    const t0 = performance.now();
    await client.call('node', 'NodePublishVolume', req(`w${i}`, join(dir, `t/w${i}/m`)));
    note('CLIENT publish', performance.now() - t0);
    const t1 = performance.now();
    await client.call('node', 'NodeUnpublishVolume', { volume_id: `w${i}`, target_path: join(dir, `t/w${i}/m`) });
    note('CLIENT unpublish', performance.now() - t1);
  }
  const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
  for (const [k, v] of [...times].sort()) console.log(`${med(v).toFixed(2).padStart(8)} ms  x${String(v.length / (N - 10)).padEnd(4)} ${k}`);
} finally {
  client.close?.();
  await plugin.stop?.();
  await unmountBelow(dir);
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
