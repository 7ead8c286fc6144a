import test from 'ava';
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError, StorePathsUnavailableError, UnavailableError } from '../../src/core/errors.js';
import { NodeEvents, type NodeEvent } from '../../src/core/ports/node-events.js';
import { ViewManager } from '../../src/core/view-manager.js';
import { VolumePublisher } from '../../src/core/volume-publisher.js';
import type { PublishRequest } from '../../src/core/volume-request.js';
import { emptySpec } from '../../src/core/volume-spec.js';
import { createTestContainer, type TestContainer } from '../helpers/test-container.js';

const APP = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app';
const LIB = '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib';
const OTHER = '/nix/store/cccccccccccccccccccccccccccccccc-other';
const REMOTE = '/nix/store/dddddddddddddddddddddddddddddddd-remote';

function setup(settings = {}) {
  const fakes = createTestContainer({ settings });
  fakes.nix.add(LIB).add(APP, [LIB]).add(OTHER);
  return { publisher: fakes.container.get(VolumePublisher), views: fakes.container.get(ViewManager), fakes };
}

function request(target: string, paths: string[] = [APP], extra: Partial<PublishRequest> = {}): PublishRequest {
  return {
    volumeId: `vol-${target}`,
    targetPath: target,
    readonly: true,
    accessMode: 'single-node-writer',
    mountFlags: [],
    spec: { ...emptySpec(), storePaths: paths },
    ...extra,
  };
}

function nothingLeft(t: { deepEqual: (a: unknown, b: unknown) => void }, fakes: TestContainer) {
  t.deepEqual(
    { mounts: fakes.mounter.mounts.size, records: fakes.state.records.size, views: fakes.views.views.size, targets: fakes.dirs.targets.size, overlays: fakes.dirs.overlays.size, roots: fakes.nix.gcRoots.size },
    { mounts: 0, records: 0, views: 0, targets: 0, overlays: 0, roots: 0 },
  );
}

test('read-only publish mounts the closure view and records the volume', async (t) => {
  const { publisher, fakes } = setup();
  const result = await publisher.publish(request('/t/1'));
  t.true(result.viewBuilt);
  t.deepEqual(result.roots, [APP]);
  const mount = fakes.mounter.mounts.get('/t/1');
  t.deepEqual(mount, { source: `/views/${result.viewKey}/nix`, readonly: true, flags: [] });
  t.deepEqual(fakes.views.views.get(result.viewKey)?.paths.map((p) => p.storePath), [APP, LIB]);
  t.is(fakes.state.list()[0]?.viewKey, result.viewKey);
  t.deepEqual(fakes.nix.gcRoots.get(result.viewKey), [APP]);
});

test('a second volume of the same closure reuses the view; another closure gets its own', async (t) => {
  const { publisher, fakes } = setup();
  const first = await publisher.publish(request('/t/1'));
  const second = await publisher.publish(request('/t/2'));
  const third = await publisher.publish(request('/t/3', [OTHER]));
  t.false(second.viewBuilt);
  t.is(second.viewKey, first.viewKey);
  t.not(third.viewKey, first.viewKey);
  t.is(fakes.views.materializeCalls, 2);
});

test('twenty concurrent publishes of one closure build one view', async (t) => {
  const { publisher, fakes } = setup();
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => publisher.publish(request(`/t/${i}`))));
  t.is(fakes.views.materializeCalls, 1);
  t.is(results.filter((r) => r.viewBuilt).length, 1);
  t.is(fakes.mounter.mounts.size, 20);
});

test('republishing with the same arguments is OK; other arguments are ALREADY_EXISTS', async (t) => {
  const { publisher } = setup();
  await publisher.publish(request('/t/1'));
  t.true((await publisher.publish(request('/t/1'))).alreadyPublished);
  await t.throwsAsync(publisher.publish(request('/t/1', [OTHER])), { instanceOf: AlreadyExistsError });
  await t.throwsAsync(publisher.publish(request('/t/1', [APP], { readonly: false })), { instanceOf: AlreadyExistsError });
  await t.throwsAsync(publisher.publish(request('/t/1', [APP], { volumeId: 'someone-else' })), { instanceOf: AlreadyExistsError, message: /already holds volume/ });
});

test('a single-writer volume at a second target is FAILED_PRECONDITION; multi-node modes are fine', async (t) => {
  const { publisher } = setup();
  await publisher.publish(request('/t/1', [APP], { volumeId: 'shared' }));
  await t.throwsAsync(publisher.publish(request('/t/2', [APP], { volumeId: 'shared' })), { instanceOf: FailedPreconditionError });
  await publisher.publish(request('/t/3', [APP], { volumeId: 'many', accessMode: 'multi-node-reader-only' }));
  await t.notThrowsAsync(publisher.publish(request('/t/4', [APP], { volumeId: 'many', accessMode: 'multi-node-reader-only' })));
});

test('a read-write publish gets its own overlay; reader modes are always read-only', async (t) => {
  const { publisher, fakes } = setup();
  await publisher.publish(request('/t/rw', [APP], { readonly: false }));
  t.false(fakes.mounter.mounts.get('/t/rw')?.readonly);
  t.is(fakes.dirs.overlays.size, 1);
  await publisher.publish(request('/t/ro', [APP], { readonly: false, accessMode: 'multi-node-reader-only' }));
  t.true(fakes.mounter.mounts.get('/t/ro')?.readonly);
  t.is(fakes.dirs.overlays.size, 1);
});

test('missing paths are substituted; paths no cache has fail naming them and leave nothing', async (t) => {
  const { publisher, fakes } = setup();
  fakes.nix.add(REMOTE, [], 'cache');
  await publisher.publish(request('/t/1', [REMOTE]));
  t.is(fakes.nix.calls.realise.length, 1);
  await publisher.unpublish('vol-/t/1', '/t/1');
  const missing = '/nix/store/ffffffffffffffffffffffffffffffff-nowhere';
  const error = await t.throwsAsync(publisher.publish(request('/t/2', [missing])), { instanceOf: StorePathsUnavailableError });
  t.regex(error!.message, /ffffffffffffffffffffffffffffffff-nowhere/);
  nothingLeft(t, fakes);
});

test('a failed mount rolls back target, overlay, record and the view it built', async (t) => {
  const { publisher, fakes } = setup();
  fakes.mounter.failNextMount = new Error('mount: permission denied');
  await t.throwsAsync(publisher.publish(request('/t/1', [APP], { readonly: false })), { message: /permission denied/ });
  nothingLeft(t, fakes);
});

test('a failed view build leaves nothing and the next publish builds again', async (t) => {
  const { publisher, fakes } = setup();
  fakes.views.failNextMaterialize = new Error('disk full');
  await t.throwsAsync(publisher.publish(request('/t/1')), { message: 'disk full' });
  nothingLeft(t, fakes);
  t.true((await publisher.publish(request('/t/1'))).viewBuilt);
});

test('a failure does not remove a view other volumes hold', async (t) => {
  const { publisher, fakes } = setup();
  const held = await publisher.publish(request('/t/1'));
  fakes.mounter.failNextMount = new Error('boom');
  await t.throwsAsync(publisher.publish(request('/t/2')));
  t.true(fakes.views.views.has(held.viewKey));
});

test('unpublish unmounts and forgets; again is OK; another volume id at the target is NOT_FOUND', async (t) => {
  const { publisher, fakes } = setup();
  await publisher.publish(request('/t/1', [APP], { readonly: false }));
  await t.throwsAsync(publisher.unpublish('not-this-one', '/t/1'), { instanceOf: NotFoundError });
  t.deepEqual(await publisher.unpublish('vol-/t/1', '/t/1'), { wasPublished: true });
  t.deepEqual(await publisher.unpublish('vol-/t/1', '/t/1'), { wasPublished: false });
  nothingLeft(t, fakes);
});

test('CSI and host volume records keep apart: each side refuses the other\'s record at a path (FAILED_PRECONDITION, nothing changes), and a volume id is each side\'s own', async (t) => {
  const { publisher, fakes } = setup();
  const csi = request('/v/x', [APP], { volumeId: 'x' });
  const host = request('/v/y', [APP], { volumeId: 'y', origin: 'host-volume' });
  await publisher.publish(csi);
  await publisher.publish(host);
  t.is(fakes.state.list().find((r) => r.targetPath === '/v/x')?.origin, 'csi');
  t.is(fakes.state.list().find((r) => r.targetPath === '/v/y')?.origin, 'host-volume');

  const refusals = [
    [() => publisher.unpublish('x', '/v/x', undefined, { origin: 'host-volume' }), /\/v\/x holds a CSI volume \(x\), not a Nomad host volume/],
    [() => publisher.publish({ ...csi, origin: 'host-volume' }), /\/v\/x holds a CSI volume/],
    [() => publisher.unpublish('y', '/v/y'), /\/v\/y holds a Nomad host volume \(y\), not a CSI volume; delete it with Nomad/],
    [() => publisher.publish({ ...host, origin: 'csi' }), /\/v\/y holds a Nomad host volume/],
    [() => publisher.unpublishMoved('y', '/v/y'), /holds a Nomad host volume/],
  ] as const;
  // One at a time: each holds the path's lock.
  for (const [call, message] of refusals) await t.throwsAsync(call(), { instanceOf: FailedPreconditionError, message });
  await t.throwsAsync(publisher.usage('y', '/v/y'), { instanceOf: NotFoundError });
  t.false(publisher.isRecorded('y', '/v/y'), 'a host volume is never unpublished by CSI through a moved path');
  t.is(fakes.mounter.mounts.size, 2);
  t.is(fakes.state.records.size, 2);

  // single-node-writer: one target per volume id, counted within each side only.
  await publisher.publish(request('/v/other', [APP], { volumeId: 'x', origin: 'host-volume' }));
  await t.throwsAsync(publisher.publish(request('/v/again', [APP], { volumeId: 'x' })), { instanceOf: FailedPreconditionError, message: /already published at \/v\/x/ });

  t.deepEqual(await publisher.unpublish('x', '/v/other', undefined, { origin: 'host-volume' }), { wasPublished: true });
  t.deepEqual(await publisher.unpublish('y', '/v/y', undefined, { origin: 'host-volume' }), { wasPublished: true });
  t.deepEqual(await publisher.unpublish('x', '/v/x'), { wasPublished: true });
  nothingLeft(t, fakes);
});

test('records from before origins: plainly CSI\'s are CSI\'s; one that could be a host volume is either side\'s until a publish of it claims it', async (t) => {
  const { publisher, fakes } = setup();
  await publisher.publish(request('/pods/u/mount', [APP], { volumeId: 'csi-1' }));
  await publisher.publish(request('/v/h', [APP], { volumeId: 'h', origin: 'host-volume' }));
  await publisher.publish(request('/v/c', [APP], { volumeId: 'c' }));
  // As an older nixmount wrote them: no origin.
  for (const record of fakes.state.list()) {
    const { origin: _, ...old } = record;
    fakes.state.records.set(record.key, old);
  }

  // At …/mount, not at <dir>/<id>: no host volume could be there.
  await t.throwsAsync(publisher.unpublish('csi-1', '/pods/u/mount', undefined, { origin: 'host-volume' }), { instanceOf: FailedPreconditionError });
  // <dir>/<id>: Nomad's create at client start (or its retry) claims its record; CSI is refused from then on.
  t.true((await publisher.publish(request('/v/h', [APP], { volumeId: 'h', origin: 'host-volume' }))).alreadyPublished);
  t.is(fakes.state.list().find((r) => r.targetPath === '/v/h')?.origin, 'host-volume');
  await t.throwsAsync(publisher.unpublish('h', '/v/h'), { instanceOf: FailedPreconditionError, message: /holds a Nomad host volume/ });
  // And CSI's republish claims one for CSI.
  t.true((await publisher.publish(request('/v/c', [APP], { volumeId: 'c' }))).alreadyPublished);
  await t.throwsAsync(publisher.unpublish('c', '/v/c', undefined, { origin: 'host-volume' }), { instanceOf: FailedPreconditionError, message: /holds a CSI volume/ });

  t.deepEqual(await publisher.unpublish('csi-1', '/pods/u/mount'), { wasPublished: true });
  t.deepEqual(await publisher.unpublish('h', '/v/h', undefined, { origin: 'host-volume' }), { wasPublished: true });
  t.deepEqual(await publisher.unpublish('c', '/v/c'), { wasPublished: true });
  nothingLeft(t, fakes);
});

test('an unpublish of a path through a symlink with no record: OK when every mount of ours is where a record puts it; FAILED_PRECONDITION, touching nothing, while one is not', async (t) => {
  const { publisher, fakes } = setup();
  t.deepEqual(await publisher.unpublishMoved('gone', '/swapped/mount'), { wasPublished: false });
  await publisher.publish(request('/t/1'));
  t.deepEqual(await publisher.unpublishMoved('gone', '/swapped/mount'), { wasPublished: false }, 'recorded mounts are placed');
  // Its record set aside (unreadable): the mount could be anyone's.
  const [record] = fakes.state.list();
  fakes.state.records.clear();
  await t.throwsAsync(publisher.unpublishMoved('gone', '/swapped/mount'), { instanceOf: FailedPreconditionError, message: /mounts of nixmount that no record places exist \(\/t\/1\)/ });
  t.true(fakes.mounter.mounts.has('/t/1'), 'nothing touched');
  fakes.state.records.set(record!.key, record!);
  t.deepEqual(await publisher.unpublish('vol-/t/1', '/t/1'), { wasPublished: true });
  nothingLeft(t, fakes);
});

test('with an idle period, a released view survives until collection after that period', async (t) => {
  const { publisher, views, fakes } = setup({ viewIdleMs: 60_000 });
  const { viewKey } = await publisher.publish(request('/t/1'));
  await publisher.unpublish('vol-/t/1', '/t/1');
  t.deepEqual(await views.collect(60_000), []);
  t.true(fakes.views.views.has(viewKey));
  t.false((await publisher.publish(request('/t/2'))).viewBuilt); // warm: the idle view is reused
  await publisher.unpublish('vol-/t/2', '/t/2');
  fakes.clock.advance(60_000);
  t.deepEqual(await views.collect(60_000), [viewKey]);
  t.false(fakes.nix.gcRoots.has(viewKey));
});

test('a record whose mount vanished (reboot) is mounted again by a retry', async (t) => {
  const { publisher, fakes } = setup();
  await publisher.publish(request('/t/1'));
  fakes.mounter.mounts.clear();
  const again = await publisher.publish(request('/t/1'));
  t.false(again.alreadyPublished);
  t.true(fakes.mounter.mounts.has('/t/1'));
  t.is(fakes.state.records.size, 1);
});

test('system keys pick the node system; naming only other systems is INVALID_ARGUMENT listing them', async (t) => {
  const { publisher, fakes } = setup();
  const spec = { ...emptySpec(), systemPaths: { 'x86_64-linux': [APP], 'aarch64-linux': [OTHER] } };
  const result = await publisher.publish({ ...request('/t/1'), spec });
  t.deepEqual(result.roots, [APP]);
  const elsewhere = { ...emptySpec(), systemPaths: { 'aarch64-linux': [OTHER], 'aarch64-darwin': [OTHER] } };
  const error = await t.throwsAsync(publisher.publish({ ...request('/t/2'), spec: elsewhere }), { instanceOf: InvalidArgumentError });
  t.regex(error!.message, /aarch64-darwin, aarch64-linux.*x86_64-linux/);
  t.is(fakes.mounter.mounts.size, 1);
});

test('publishes, failures and unpublishes reach the node event listeners with the workload; a throwing listener changes nothing', async (t) => {
  const { publisher, fakes } = setup();
  const hub = fakes.container.get<NodeEvents>(NodeEvents);
  const seen: NodeEvent[] = [];
  hub.subscribe(() => {
    throw new Error('a broken listener');
  });
  hub.subscribe((event) => {
    if (event.kind.startsWith('publish') || event.kind.startsWith('unpublish')) seen.push(event);
  });
  const workload = { pod: 'ns/p', podUid: 'u-1' };

  await publisher.publish(request('/t/1', [APP], { workload }));
  await publisher.publish(request('/t/2', [APP], { workload }));
  await publisher.publish(request('/t/2', [APP], { workload })); // already published: no event
  await t.throwsAsync(publisher.publish(request('/t/3', [REMOTE], { workload })), { instanceOf: StorePathsUnavailableError });
  await publisher.unpublish('vol-/t/1', '/t/1');

  const summary = seen.map((event) => {
    switch (event.kind) {
      case 'publish-finished':
        t.true(event.seconds >= event.phases.realise + event.phases.view + event.phases.mount - 1e-9);
        return { kind: event.kind, workload: event.workload, viewReused: event.viewReused, paths: event.paths, readonly: event.readonly };
      case 'publish-failed':
        return { kind: event.kind, workload: event.workload, reason: event.reason };
      case 'unpublish-finished':
        return { kind: event.kind, volumeId: event.volumeId, wasPublished: event.wasPublished };
      default:
        return { kind: event.kind };
    }
  });
  t.deepEqual(summary, [
    { kind: 'publish-finished', workload, viewReused: false, paths: 2, readonly: true },
    { kind: 'publish-finished', workload, viewReused: true, paths: 2, readonly: true },
    { kind: 'publish-failed', workload, reason: 'FailedPrecondition' },
    { kind: 'unpublish-finished', volumeId: 'vol-/t/1', wasPublished: true },
  ]);
});

test('a closure is rooted before its view is built, and one a garbage collection took meanwhile is UNAVAILABLE with nothing left', async (t) => {
  const { publisher, fakes } = setup();
  const order: string[] = [];
  const addGcRoots = fakes.nix.addGcRoots.bind(fakes.nix);
  fakes.nix.addGcRoots = async (holder, roots) => {
    order.push(`roots, ${fakes.views.materializeCalls} view build(s) begun`);
    await addGcRoots(holder, roots);
  };
  await publisher.publish(request('/t/first'));
  t.deepEqual(order, ['roots, 0 view build(s) begun']);

  // Valid when the closure was asked, deleted before its roots were taken.
  fakes.nix.collected.add(OTHER);
  const error = await t.throwsAsync(publisher.publish(request('/t/collected', [OTHER])), { instanceOf: UnavailableError });
  t.regex(error!.message, new RegExp(`deleted "${OTHER}" while the volume was prepared; retry`));
  t.is(fakes.views.materializeCalls, 1, 'no view built of a closure that is gone');
  t.deepEqual([...fakes.nix.gcRoots.values()], [[APP]], 'only the first volume\'s roots');
  t.false(fakes.state.records.has('vol-/t/collected'));
});

test('a publish whose caller\'s answer-by time has passed is not started: UNAVAILABLE, no view built, nothing left', async (t) => {
  const { publisher, fakes } = setup();
  const late = request('/t/late', [APP], { answerBy: fakes.clock.now().getTime() - 1 });
  const error = await t.throwsAsync(publisher.publish(late), { instanceOf: UnavailableError });
  t.regex(error!.message, /^volume "vol-\/t\/late" at \/t\/late: not started, 0\.0 s after the caller stopped waiting for the answer; nothing of it is left: ask again$/);
  t.is(fakes.views.materializeCalls, 0);
  nothingLeft(t, fakes);
});

test('a publish that made its volume after the caller\'s answer-by time undoes it before answering: UNAVAILABLE, nothing left; one in time stands', async (t) => {
  const { publisher, fakes } = setup();
  const bind = fakes.mounter.bindReadOnly.bind(fakes.mounter);
  let stall = 0;
  // The mount is where the time goes (a node swapping, a stopped process resumed).
  fakes.mounter.bindReadOnly = async (...args: Parameters<typeof bind>) => {
    await bind(...args);
    fakes.clock.advance(stall);
  };
  stall = 5_000;
  const answerBy = fakes.clock.now().getTime() + 2_000;
  const error = await t.throwsAsync(publisher.publish(request('/t/slow', [APP], { answerBy })), { instanceOf: UnavailableError });
  t.regex(error!.message, /made too late, and undone, 3\.0 s after the caller stopped waiting/);
  nothingLeft(t, fakes);

  stall = 1_000;
  const result = await publisher.publish(request('/t/slow', [APP], { answerBy: fakes.clock.now().getTime() + 2_000 }));
  t.false(result.alreadyPublished);
  t.is(fakes.mounter.mounts.size, 1);
  t.is(fakes.state.records.size, 1);
});
