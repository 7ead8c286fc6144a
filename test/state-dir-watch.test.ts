import test from 'ava';
import { execa } from 'execa';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { lockStateDir } from '../src/state-dir-lock.js';
import { StateDirWatch } from '../src/state-dir-watch.js';
import type { StageState } from '../src/core/ports/stage-state.js';
import type { VolumeRecord, VolumeState } from '../src/core/ports/volume-state.js';
import { RecordingLogger } from './helpers/recording-logger.js';
import { tempDir } from './helpers/temp.js';

/** Records in memory; `put` counts what is written back. */
function records<T extends { key: string }>(given: T[]) {
  const written: T[] = [];
  const store = { list: () => [...given], put: async (record: T) => void written.push(record) };
  return { store, written };
}

function volume(key: string, overlayDir?: string): VolumeRecord {
  return {
    key, volumeId: `v-${key}`, targetPath: `/pods/${key}/mount`, readonly: overlayDir === undefined, accessMode: 'SINGLE_NODE_READER_ONLY' as VolumeRecord['accessMode'],
    requestFingerprint: 'f', viewKey: '0'.repeat(32), roots: ['/nix/store/x'], publishedAt: new Date(0).toISOString(), ...(overlayDir ? { overlayDir } : {}),
  };
}

/** Whether another process can take `owner.lock` now (flock(1) exits 1 when it is held). */
async function lockIsFree(stateDir: string): Promise<boolean> {
  return (await execa('flock', ['--exclusive', '--nonblock', join(stateDir, 'owner.lock'), 'true'], { reject: false })).exitCode === 0;
}

test('the state dir wiped under the running plugin: records written back, the lock taken again, lost overlays named in one error', async (t) => {
  const stateDir = join(await tempDir(t), 'state');
  const unlock = await lockStateDir(stateDir);
  t.teardown(unlock);
  const overlay = join(stateDir, 'overlays', 'rw');
  await mkdir(join(overlay, 'upper'), { recursive: true });
  const volumes = records([volume('ro'), volume('rw', overlay)]);
  const stages = records<{ key: string }>([]);
  const log = new RecordingLogger();
  let dropCalls = 0;
  const views = { dropRootsOfVanishedViews: async () => (dropCalls++, ['0'.repeat(32)]) };
  const watch = await StateDirWatch.start(stateDir, { volumes: volumes.store as unknown as VolumeState, stages: stages.store as unknown as StageState, views }, log, 60_000);
  t.teardown(() => watch.stop());

  t.false(await watch.check(), 'nothing to see while the state dir is as it was');
  t.deepEqual(volumes.written, []);
  t.false(await lockIsFree(stateDir));

  await rm(stateDir, { recursive: true, force: true });
  await mkdir(stateDir);
  t.true(await lockIsFree(stateDir), 'with owner.lock gone, a second owner could start (flock(1) makes a new one)');

  t.true(await watch.check());
  t.deepEqual(volumes.written.map((record) => record.key), ['ro', 'rw'], 'every record written back from memory');
  t.false(await lockIsFree(stateDir), 'the new owner.lock is held again');
  t.is((await readFile(join(stateDir, 'owner.pid'), 'utf8')).trim(), String(process.pid));
  const errors = log.records.filter((record) => record.level === 'error');
  t.is(errors.length, 1);
  t.regex(errors[0]!.message, /the state directory's content was removed under the running plugin: the records of its 2 volumes and 0 stages were written again/);
  t.regex(errors[0]!.message, /1 read-write volumes lost the overlay directory holding their writes/);
  t.deepEqual(errors[0]!.fields.readWriteVolumesWithoutOverlayDir, ['/pods/rw/mount']);
  t.is(dropCalls, 1, 'the roots of views gone with the wipe are dropped');
  t.deepEqual(errors[0]!.fields.viewsGone, ['0'.repeat(32)]);

  t.false(await watch.check(), 'reported once: the new lock is the one watched from now on');
  t.is(log.records.filter((record) => record.level === 'error').length, 1);
});
