import test from 'ava';
import { FailedPreconditionError, NotFoundError } from '../../src/core/errors.js';
import { ViewManager } from '../../src/core/view-manager.js';
import { VolumePublisher } from '../../src/core/volume-publisher.js';
import { VolumeStager, type StageRequest } from '../../src/core/volume-stager.js';
import { emptySpec } from '../../src/core/volume-spec.js';
import { createTestContainer } from '../helpers/test-container.js';

const APP = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app';
const LIB = '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib';
const STAGING = '/csi/staging/default/vol/ro-file-system-multi-node-reader-only';
const target = (alloc: string) => `/csi/per-alloc/${alloc}/vol/ro-file-system-multi-node-reader-only`;

function setup() {
  const fakes = createTestContainer();
  fakes.nix.add(LIB).add(APP, [LIB]);
  return { stager: fakes.container.get(VolumeStager), publisher: fakes.container.get(VolumePublisher), views: fakes.container.get(ViewManager), fakes };
}

const stageRequest: StageRequest = { volumeId: 'vol', stagingPath: STAGING, accessMode: 'multi-node-reader-only', spec: { ...emptySpec(), storePaths: [APP] } };

function publishFrom(alloc: string) {
  return {
    volumeId: 'vol',
    targetPath: target(alloc),
    readonly: true,
    accessMode: 'multi-node-reader-only' as const,
    mountFlags: [],
    spec: stageRequest.spec,
    stagingPath: STAGING,
  };
}

test('publishes from a stage mount its view without asking the store again', async (t) => {
  const { stager, publisher, views, fakes } = setup();
  const staged = await stager.stage(stageRequest);
  t.true(staged.viewBuilt);
  t.is(fakes.mounter.mounts.get(STAGING)?.source, views.nixDir(staged.viewKey));
  fakes.nix.valid.clear(); // any resolve or closure query would now fail or differ
  for (const alloc of ['a1', 'a2', 'a3']) await publisher.publish(publishFrom(alloc));
  t.is(fakes.views.materializeCalls, 1);
  for (const alloc of ['a1', 'a2', 'a3']) t.is(fakes.mounter.mounts.get(target(alloc))?.source, views.nixDir(staged.viewKey));
  t.is(fakes.state.get([...fakes.state.records.keys()][0]!)?.stagingPath, STAGING);
});

test('a stage record holds its view against collection; unstage releases it', async (t) => {
  const { stager, views, fakes } = setup();
  const { viewKey } = await stager.stage(stageRequest);
  t.deepEqual(await views.collect(0), []);
  t.true(fakes.views.views.has(viewKey));
  t.deepEqual(await stager.unstage('vol', STAGING), { wasStaged: true });
  t.deepEqual({ mounts: fakes.mounter.mounts.size, stages: fakes.stages.records.size, views: fakes.views.views.size, roots: fakes.nix.gcRoots.size }, { mounts: 0, stages: 0, views: 0, roots: 0 });
  t.deepEqual(await stager.unstage('vol', STAGING), { wasStaged: false });
});

test('unstage is refused while a publish from the staging path remains, and for another volume', async (t) => {
  const { stager, publisher } = setup();
  await stager.stage(stageRequest);
  await publisher.publish(publishFrom('a1'));
  const error = await t.throwsAsync(stager.unstage('vol', STAGING), { instanceOf: FailedPreconditionError });
  t.true(error!.message.includes(target('a1')));
  await t.throwsAsync(stager.unstage('other', STAGING), { instanceOf: NotFoundError });
  await publisher.unpublish('vol', target('a1'));
  t.deepEqual(await stager.unstage('vol', STAGING), { wasStaged: true });
});

test('a failed stage leaves no record, mount, target or view behind', async (t) => {
  const { stager, fakes } = setup();
  fakes.mounter.failNextMount = new Error('mount failed');
  await t.throwsAsync(stager.stage(stageRequest), { message: 'mount failed' });
  t.deepEqual(
    { mounts: fakes.mounter.mounts.size, stages: fakes.stages.records.size, views: fakes.views.views.size, targets: fakes.dirs.targets.size },
    { mounts: 0, stages: 0, views: 0, targets: 0 },
  );
  t.throws(() => stager.stagedView('vol', STAGING), { instanceOf: FailedPreconditionError });
});

test('a publish whose staged view vanished is FAILED_PRECONDITION and holds nothing', async (t) => {
  const { stager, publisher, views, fakes } = setup();
  const { viewKey } = await stager.stage(stageRequest);
  const request = publishFrom('a1');
  fakes.views.views.delete(viewKey);
  await t.throwsAsync(publisher.publish(request), { instanceOf: FailedPreconditionError });
  t.is(fakes.state.records.size, 0);
  t.false(fakes.mounter.mounts.has(target('a1')));
  await stager.unstage('vol', STAGING);
  t.false(views.isHeld(viewKey));
});
