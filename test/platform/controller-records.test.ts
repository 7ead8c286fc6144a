import test from 'ava';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProvisionedVolume } from '../../src/core/controller/provisioned-volume.js';
import type { ControllerState } from '../../src/core/ports/controller-state.js';
import { controllerRecords } from '../../src/platform/record-stores.js';
import { createLogger } from '../../src/platform/pino-logger.js';
import { tempDir } from '../helpers/temp.js';

function volume(id: string): ProvisionedVolume {
  return { volumeId: id, name: id, parameters: { paths: '/nix/store/x' }, requiredBytes: '0', limitBytes: '0', fingerprint: 'f', createdAt: '2026-01-01T00:00:00.000Z' };
}

async function open(stateDir: string): Promise<ControllerState> {
  const state = controllerRecords(stateDir, createLogger({ level: 'silent' }));
  await state.load();
  return state;
}

test('records are rebuilt from disk, sorted by id; interrupted writes are dropped and unreadable files quarantined', async (t) => {
  const dir = await tempDir(t);
  const first = await open(dir);
  await first.put(volume('nixmount-b'));
  await first.put(volume('nixmount-a'));
  await first.put(volume('nixmount-c'));
  await first.delete('nixmount-c');
  const files = join(dir, 'controller', 'volumes');
  await writeFile(join(files, 'nixmount-d.json.1234.tmp'), '{"half":');
  await writeFile(join(files, 'nixmount-e.json'), 'not json');

  const reloaded = await open(dir);
  t.deepEqual(reloaded.list().map((v) => v.volumeId), ['nixmount-a', 'nixmount-b']);
  t.deepEqual(reloaded.get('nixmount-a'), volume('nixmount-a'));
  t.deepEqual((await readdir(files)).sort(), ['nixmount-a.json', 'nixmount-b.json']);
  t.deepEqual((await readdir(join(dir, 'quarantine'))).map((name) => name.replace(/\.\d+$/, '')), ['volumes-nixmount-e.json']);
});

test('deleting an absent volume is not an error and touches no file', async (t) => {
  const dir = await tempDir(t);
  const state = await open(dir);
  await state.put(volume('nixmount-a'));
  await state.delete('nixmount-zzz');
  await state.delete('../../outside');
  t.deepEqual(await readdir(join(dir, 'controller', 'volumes')), ['nixmount-a.json']);
});
