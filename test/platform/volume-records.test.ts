import test from 'ava';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VolumeRecord } from '../../src/core/ports/volume-state.js';
import { volumeRecords } from '../../src/platform/record-stores.js';
import { silentLogger } from '../helpers/fakes.js';
import { RecordingLogger } from '../helpers/recording-logger.js';
import { tempDir } from '../helpers/temp.js';

/** Keys are 32 hex digits (a hash of the target), as the publisher makes them. */
const key = (c: string) => c.repeat(32);

function record(c: string): VolumeRecord {
  return { key: key(c), volumeId: `v-${c}`, targetPath: `/t/${c}`, readonly: true, accessMode: 'single-node-writer', requestFingerprint: 'f', viewKey: key('f'), roots: [], publishedAt: '2026-01-01T00:00:00.000Z' };
}

function stateAt(stateDir: string, log = silentLogger) {
  return volumeRecords(stateDir, log);
}

test('records survive a reload from disk; deleting an absent record is not an error', async (t) => {
  const dir = await tempDir(t);
  const state = stateAt(dir);
  await state.load();
  await state.put(record('a'));
  await state.put(record('b'));
  await state.delete(key('b'));
  await state.delete('never-existed');
  const reloaded = stateAt(dir);
  await reloaded.load();
  t.deepEqual(reloaded.list(), [record('a')]);
});

test('a write a crash interrupted (temp file) is dropped; unreadable and ill-typed records are quarantined and logged once', async (t) => {
  const dir = await tempDir(t);
  const volumes = join(dir, 'volumes');
  const state = stateAt(dir);
  await state.put(record('a'));
  const good = await readFile(join(volumes, `${key('a')}.json`), 'utf8');
  await writeFile(join(volumes, `${key('a')}.json.abc123.tmp`), '{"half":');
  const bad = {
    [key('b')]: good.slice(0, good.length / 2), // truncated
    [key('c')]: '{}',
    [key('d')]: 'null',
    [key('e')]: JSON.stringify({ ...record('e'), readonly: 'yes', roots: 'nope' }), // wrong types
    [key('1')]: JSON.stringify({ ...record('1'), viewKey: '../../../etc' }), // a view key that would name another directory
    [key('2')]: JSON.stringify(record('3')), // a record whose key is not its file name
  };
  for (const [name, text] of Object.entries(bad)) await writeFile(join(volumes, `${name}.json`), text);

  const log = new RecordingLogger();
  const reloaded = stateAt(dir, log);
  await reloaded.load();
  t.deepEqual(reloaded.list().map((r) => r.key), [key('a')]);
  t.deepEqual(await readdir(volumes), [`${key('a')}.json`]);
  const quarantined = (await readdir(join(dir, 'quarantine'))).map((name) => name.replace(/\.\d+$/, '')).sort();
  t.deepEqual(quarantined, Object.keys(bad).map((name) => `volumes-${name}.json`).sort());
  t.is(log.records.filter((entry) => entry.level === 'error').length, Object.keys(bad).length);

  const again = new RecordingLogger();
  await stateAt(dir, again).load();
  t.is(again.records.filter((entry) => entry.level === 'error').length, 0, 'a quarantined record is reported once, not at every start');
});

test('a record\'s origin is read back; a record from before origins (none) is read as it is; an unknown origin is quarantined', async (t) => {
  const dir = await tempDir(t);
  const volumes = join(dir, 'volumes');
  await mkdir(volumes, { recursive: true });
  const host: VolumeRecord = { ...record('a'), origin: 'host-volume' };
  await writeFile(join(volumes, `${key('a')}.json`), JSON.stringify(host));
  await writeFile(join(volumes, `${key('b')}.json`), JSON.stringify(record('b')));
  await writeFile(join(volumes, `${key('c')}.json`), JSON.stringify({ ...record('c'), origin: 'martian' }));
  const state = stateAt(dir);
  await state.load();
  t.deepEqual(state.list(), [host, record('b')]);
  t.deepEqual(await readdir(join(dir, 'quarantine')).then((names) => names.map((name) => name.replace(/\.\d+$/, ''))), [`volumes-${key('c')}.json`]);
});

test('a record leaves memory only once its file is gone', async (t) => {
  const dir = await tempDir(t);
  const state = stateAt(dir);
  await state.put(record('a'));
  const file = join(dir, 'volumes', `${key('a')}.json`);
  // A directory where the file was: unlink fails (EISDIR/EPERM), as on a read-only state dir.
  await rm(file);
  await mkdir(file);
  await t.throwsAsync(state.delete(key('a')));
  t.truthy(state.get(key('a')), 'the record stays, so a retry deletes it');
});

test('putThen runs its work once the record is in place for every reader, answers its result, and keeps the record when the work fails', async (t) => {
  const dir = await tempDir(t);
  const state = stateAt(dir);
  await state.load();
  const seen = await state.putThen(record('a'), async () => {
    const onDisk = JSON.parse(await readFile(join(dir, 'volumes', `${key('a')}.json`), 'utf8')) as VolumeRecord;
    return { onDisk, inMemory: state.get(key('a')) };
  });
  t.deepEqual(seen, { onDisk: record('a'), inMemory: record('a') });
  const failure = await t.throwsAsync(state.putThen(record('b'), async () => {
    throw new Error('mount failed');
  }));
  t.is(failure?.message, 'mount failed');
  t.deepEqual(state.get(key('b')), record('b'), 'kept, for the caller to delete');
  await state.delete(key('b'));
  t.deepEqual((await readdir(join(dir, 'volumes'))).sort(), [`${key('a')}.json`], 'no temp file, the failed one deleted');
  const reloaded = stateAt(dir);
  await reloaded.load();
  t.deepEqual(reloaded.list(), [record('a')]);
});
