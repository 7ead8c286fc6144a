import 'reflect-metadata';
import test from 'ava';
import { Container } from 'inversify';
import { VolumeController } from '../../../src/core/controller/volume-controller.js';
import type { ProvisionedVolume } from '../../../src/core/controller/provisioned-volume.js';
import { isNixmountError } from '../../../src/core/errors.js';
import { Clock } from '../../../src/core/ports/clock.js';
import { ControllerState } from '../../../src/core/ports/controller-state.js';
import { Logger } from '../../../src/core/ports/logger.js';
import { createLogger } from '../../../src/platform/pino-logger.js';

const PATH = '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-hello';

/** In-memory ControllerState that counts writes, so "nothing recorded" is observable. */
class MemoryControllerState implements ControllerState {
  readonly volumes = new Map<string, ProvisionedVolume>();
  writes = 0;
  async load() {}
  get(id: string) {
    return this.volumes.get(id);
  }
  list() {
    return [...this.volumes.values()].sort((a, b) => a.volumeId.localeCompare(b.volumeId));
  }
  async put(volume: ProvisionedVolume) {
    this.writes++;
    this.volumes.set(volume.volumeId, volume);
  }
  async delete(id: string) {
    this.volumes.delete(id);
  }
}

function setup() {
  const state = new MemoryControllerState();
  const container = new Container();
  container.bind(ControllerState).toConstantValue(state);
  container.bind(Clock).toConstantValue({ now: () => new Date('2026-01-01T00:00:00Z') });
  container.bind(Logger).toConstantValue(createLogger({ level: 'silent' }));
  container.bind(VolumeController).toSelf();
  return { state, controller: container.get(VolumeController) };
}

const none = { requiredBytes: 0n, limitBytes: 0n };

async function kindOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return isNixmountError(error) ? error.kind : 'other';
  }
}

test('create validates before recording; a retry writes nothing; the id depends on the name only', async (t) => {
  const { state, controller } = setup();
  t.is(await kindOf(controller.create({ name: 'a', parameters: { paths: 'relative/path' }, capacity: none })), 'InvalidArgument');
  t.is(await kindOf(controller.create({ name: 'a', parameters: { paths: PATH }, capacity: { requiredBytes: 5n, limitBytes: 4n } })), 'InvalidArgument');
  t.is(state.writes, 0);
  const first = await controller.create({ name: 'a', parameters: { paths: PATH }, capacity: none });
  t.true(first.created);
  const retry = await controller.create({ name: 'a', parameters: { paths: `\n${PATH} ` }, capacity: none });
  t.false(retry.created);
  t.is(state.writes, 1);
  t.is(await kindOf(controller.create({ name: 'a', parameters: { 'x86_64-linux': PATH }, capacity: none })), 'AlreadyExists');
  t.is((await controller.create({ name: 'b', parameters: { paths: PATH }, capacity: none })).volume.volumeId === first.volume.volumeId, false);
});

test('list: pages of max entries, no token on the last page, a token after a deleted volume still works', async (t) => {
  const { controller } = setup();
  const ids: string[] = [];
  for (const name of ['a', 'b', 'c', 'd']) ids.push((await controller.create({ name, parameters: { paths: PATH }, capacity: none })).volume.volumeId);
  ids.sort();
  t.deepEqual(controller.list(0, '').volumes.map((v) => v.volumeId), ids);
  t.is(controller.list(4, '').nextToken, '');
  const page = controller.list(3, '');
  t.is(page.nextToken, ids[2]);
  await controller.delete(ids[2]!);
  t.deepEqual(controller.list(3, page.nextToken).volumes.map((v) => v.volumeId), [ids[3]]);
  t.throws(() => controller.list(1, 'page-2'), { message: /starting_token "page-2"/ });
});

test('validate: NOT_FOUND for unknown volumes; a mismatch names the field', async (t) => {
  const { controller } = setup();
  const { volume } = await controller.create({ name: 'a', parameters: { paths: PATH }, capacity: none });
  t.throws(() => controller.validate('nixmount-0', {}, {}), { message: /does not exist/ });
  t.deepEqual(controller.validate(volume.volumeId, {}, {}), {});
  t.deepEqual(controller.validate(volume.volumeId, { paths: PATH }, { paths: PATH }), {});
  t.regex(controller.validate(volume.volumeId, { paths: `${PATH} ${PATH}` }, {}).mismatch ?? '', /^volume_context differs/);
});
