import test from 'ava';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VolumeRecord } from '../../src/core/ports/volume-state.js';
import { JsonVolumeState } from '../../src/platform/json-volume-state.js';
import { silentLogger } from '../helpers/fakes.js';
import { tempDir } from '../helpers/temp.js';

function record(key: string): VolumeRecord {
  return { key, volumeId: `v-${key}`, targetPath: `/t/${key}`, readonly: true, accessMode: 'single-node-writer', requestFingerprint: 'f', viewKey: 'view', roots: [], ephemeral: true, publishedAt: '2026-01-01T00:00:00.000Z' };
}

function stateAt(stateDir: string) {
  const settings = { driverName: 'd', driverVersion: '0', nodeId: 'n', stateDir, viewIdleMs: 0 };
  return new JsonVolumeState(settings, silentLogger);
}

test('records survive a reload from disk; deleting an absent record is not an error', async (t) => {
  const dir = await tempDir(t);
  const state = stateAt(dir);
  await state.load();
  await state.put(record('a'));
  await state.put(record('b'));
  await state.delete('b');
  await state.delete('never-existed');
  const reloaded = stateAt(dir);
  await reloaded.load();
  t.deepEqual(reloaded.list(), [record('a')]);
});

test('a write a crash interrupted (temp file) and an unreadable record are dropped at load', async (t) => {
  const dir = await tempDir(t);
  const state = stateAt(dir);
  await state.put(record('good'));
  await writeFile(join(dir, 'volumes', 'good.json.abc123.tmp'), '{"half":');
  await writeFile(join(dir, 'volumes', 'broken.json'), 'not json');
  const reloaded = stateAt(dir);
  await reloaded.load();
  t.deepEqual(reloaded.list().map((r) => r.key), ['good']);
  t.false((await readdir(join(dir, 'volumes'))).some((name) => name.endsWith('.tmp')));
});
