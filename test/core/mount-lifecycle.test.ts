import test from 'ava';
import { FailedPreconditionError } from '../../src/core/errors.js';
import { NodeRecovery } from '../../src/core/node-recovery.js';
import { ViewManager } from '../../src/core/view-manager.js';
import { VolumePublisher } from '../../src/core/volume-publisher.js';
import { VolumeStager } from '../../src/core/volume-stager.js';
import type { PublishRequest } from '../../src/core/volume-request.js';
import { emptySpec } from '../../src/core/volume-spec.js';
import { createTestContainer } from '../helpers/test-container.js';

// Ownership and crash repair of the one mount lifecycle, with fakes: what nixmount may
// touch is proven (a mount of one of its views or overlays, a directory a record says it made).

const APP = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app';

function setup(settings = {}) {
  const fakes = createTestContainer({ settings });
  fakes.nix.add(APP);
  const get = <T>(id: new (...args: never[]) => T) => fakes.container.get(id);
  return { publisher: get(VolumePublisher), stager: get(VolumeStager), views: get(ViewManager), recovery: get(NodeRecovery), fakes };
}

function request(target: string, extra: Partial<PublishRequest> = {}): PublishRequest {
  return { volumeId: 'vol', targetPath: target, readonly: true, accessMode: 'single-node-reader-only', mountFlags: [], spec: { ...emptySpec(), storePaths: [APP] }, ...extra };
}

test('a publish onto someone else\'s mount is FAILED_PRECONDITION naming it, and creates nothing', async (t) => {
  const { publisher, fakes } = setup();
  fakes.mounter.mountForeign('/t/admin', 'tmpfs scratch');
  const error = await t.throwsAsync(publisher.publish(request('/t/admin')), { instanceOf: FailedPreconditionError });
  t.regex(error!.message, /\/t\/admin holds a mount nixmount does not own \(tmpfs scratch\)/);
  t.is(fakes.mounter.mounts.get('/t/admin')?.foreign, 'tmpfs scratch');
  t.deepEqual({ records: fakes.state.records.size, views: fakes.views.views.size, roots: fakes.nix.gcRoots.size }, { records: 0, views: 0, roots: 0 });
});

test('an unpublish never unmounts a foreign mount on top of the volume; the record stays for a retry', async (t) => {
  const { publisher, fakes } = setup();
  await publisher.publish(request('/t/1'));
  fakes.mounter.mountForeign('/t/1');
  await t.throwsAsync(publisher.unpublish('vol', '/t/1'), { instanceOf: FailedPreconditionError, message: /does not own/ });
  t.is(fakes.state.records.size, 1);
  t.truthy(fakes.mounter.mounts.get('/t/1')?.foreign);
});

test('an unpublish without a record unmounts only a mount of ours, and never removes the directory', async (t) => {
  const { publisher, views, recovery, fakes } = setup();
  const published = await publisher.publish(request('/t/lost'));
  fakes.state.records.clear(); // its record was unreadable and set aside by the next start
  await recovery.recover();
  fakes.dirs.targets.add('/t/victim');
  fakes.mounter.mountForeign('/t/admin');

  t.deepEqual(await publisher.unpublish('x', '/t/victim'), { wasPublished: false });
  t.true(fakes.dirs.targets.has('/t/victim'), 'an empty directory nixmount did not create stays');
  t.deepEqual(await publisher.unpublish('x', '/t/admin'), { wasPublished: false });
  t.truthy(fakes.mounter.mounts.get('/t/admin'), 'a foreign mount stays');
  t.deepEqual(await publisher.unpublish('vol', '/t/lost'), { wasPublished: true });
  t.false(fakes.mounter.mounts.has('/t/lost'));
  t.true(fakes.dirs.targets.has('/t/lost'), 'no record says nixmount created it');
  t.deepEqual(await views.collect(0), [published.viewKey], 'the view is free once its last mount is gone');
});

test('a target the orchestrator created is left to it; one nixmount created is removed', async (t) => {
  const { publisher, fakes } = setup();
  fakes.dirs.targets.add('/t/made-by-orchestrator');
  await publisher.publish(request('/t/made-by-orchestrator'));
  await publisher.publish(request('/t/made-here', { volumeId: 'other' }));
  t.false(fakes.state.list().find((r) => r.targetPath === '/t/made-by-orchestrator')?.createdPath);
  await publisher.unpublish('vol', '/t/made-by-orchestrator');
  await publisher.unpublish('other', '/t/made-here');
  t.deepEqual([...fakes.dirs.targets], ['/t/made-by-orchestrator']);
});

test('a view with a mount is held whatever the records say', async (t) => {
  const { publisher, views, fakes } = setup({ viewIdleMs: 1000 });
  const published = await publisher.publish(request('/t/1'));
  fakes.state.records.clear();
  fakes.clock.advance(5000);
  t.deepEqual(await views.collect(0), []);
  t.true(fakes.views.views.has(published.viewKey));
});

test('a record whose file cannot be deleted stays, and the retry finishes the unpublish', async (t) => {
  const { publisher, fakes } = setup();
  await publisher.publish(request('/t/1'));
  const remove = fakes.state.delete.bind(fakes.state);
  fakes.state.delete = async () => {
    throw Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });
  };
  await t.throwsAsync(publisher.unpublish('vol', '/t/1'), { message: /EROFS/ });
  t.is(fakes.state.records.size, 1);
  fakes.state.delete = remove;
  t.deepEqual(await publisher.unpublish('vol', '/t/1'), { wasPublished: true });
  t.is(fakes.state.records.size, 0);
  t.is(fakes.mounter.mounts.size, 0);
});

test('a kill right after an unpublish drops the record leaves no directory nixmount created: it goes before the record', async (t) => {
  const { publisher, fakes } = setup();
  await publisher.publish(request('/t/made-here'));
  const remove = fakes.state.delete.bind(fakes.state);
  // The record is deleted, then the process dies before anything after it runs.
  fakes.state.delete = async (key: string) => {
    await remove(key);
    throw new Error('killed');
  };
  await t.throwsAsync(publisher.unpublish('vol', '/t/made-here'), { message: 'killed' });
  fakes.state.delete = remove;
  t.deepEqual(await publisher.unpublish('vol', '/t/made-here'), { wasPublished: false }, 'the retry finds no record');
  t.deepEqual({ targets: [...fakes.dirs.targets], records: fakes.state.records.size, mounts: fakes.mounter.mounts.size }, { targets: [], records: 0, mounts: 0 });
});

test('a retry whose directory a killed unpublish already removed finds the record and finishes', async (t) => {
  const { publisher, fakes } = setup();
  await publisher.publish(request('/t/made-here'));
  await fakes.mounter.unmount('/t/made-here');
  await fakes.dirs.removeTarget('/t/made-here'); // unmounted and removed, then killed before the record went
  t.deepEqual(await publisher.unpublish('vol', '/t/made-here'), { wasPublished: true });
  t.deepEqual({ targets: [...fakes.dirs.targets], records: fakes.state.records.size, mounts: fakes.mounter.mounts.size }, { targets: [], records: 0, mounts: 0 });
});

test('start-up: roots without a view go, views without roots are rooted, overlays without record or mount go', async (t) => {
  const { publisher, recovery, fakes } = setup();
  const published = await publisher.publish(request('/t/1'));
  // The same closure read-write is a view of its own (hardlinks: an overlay's lower cannot be a bind farm).
  const writable = await publisher.publish(request('/t/rw', { volumeId: 'rw', readonly: false, accessMode: 'single-node-writer' }));
  t.not(writable.viewKey, published.viewKey);
  fakes.nix.gcRoots.delete(published.viewKey); // a crash between the roots and the rename
  fakes.nix.gcRoots.set('0'.repeat(32), [APP]); // a crash between a view's removal and its roots'
  fakes.dirs.overlays.add('f'.repeat(32)); // a publish that crashed before its record
  await recovery.recover();
  t.deepEqual([...fakes.nix.gcRoots.keys()].sort(), [published.viewKey, writable.viewKey].sort());
  t.deepEqual(fakes.nix.gcRoots.get(published.viewKey), [APP]);
  t.is(fakes.dirs.overlays.size, 1, 'the live read-write volume keeps its overlay');
});

test('a stage whose bind is gone binds the view its record holds again, without resolving anew', async (t) => {
  const { stager, fakes } = setup();
  const first = await stager.stage({ volumeId: 'vol', stagingPath: '/s/1', accessMode: 'multi-node-reader-only', spec: { ...emptySpec(), storePaths: [APP] } });
  fakes.mounter.mounts.clear(); // a reboot
  fakes.nix.valid.clear(); // resolving again would now fail
  const again = await stager.stage({ volumeId: 'vol', stagingPath: '/s/1', accessMode: 'multi-node-reader-only', spec: { ...emptySpec(), storePaths: [APP] } });
  t.is(again.viewKey, first.viewKey);
  t.true(again.alreadyStaged);
  t.is(fakes.mounter.mounts.get('/s/1')?.source, `/views/${first.viewKey}/nix`);
});

test('a writable volume\'s record is written durably (it proves the overlay is a volume\'s); a read-only one\'s is not (a power loss takes its bind too)', async (t) => {
  const { publisher, fakes } = setup();
  await publisher.publish(request('/t/ro'));
  await publisher.publish(request('/t/rw', { volumeId: 'rw', readonly: false, accessMode: 'single-node-writer' }));
  // Each record is written before its mount, then again with the mount's id, both alike.
  t.deepEqual(fakes.state.durability, [false, false, true, true]);
  t.is(fakes.state.records.size, 2);
  t.true(fakes.state.list().every((record) => typeof record.mountId === 'number'), 'each record names its mount');
});
