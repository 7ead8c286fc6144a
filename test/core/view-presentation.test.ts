import test from 'ava';
import { BindFarmUnavailableError } from '../../src/core/errors.js';
import { MountBudget } from '../../src/core/ports/mount-budget.js';
import { NodeEvents, type NodeEvent } from '../../src/core/ports/node-events.js';
import { bindFarmMounts, choosePresentation, mountHeadroom } from '../../src/core/view-presentation.js';
import { VolumePublisher } from '../../src/core/volume-publisher.js';
import type { PublishRequest } from '../../src/core/volume-request.js';
import { emptySpec } from '../../src/core/volume-spec.js';
import { createTestContainer } from '../helpers/test-container.js';

const APP = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app';
const LIB = '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib';

function setup(options: { used?: number; max?: number; viewMode?: 'auto' | 'bind-farm' | 'hardlink' } = {}) {
  const fakes = createTestContainer({ settings: options.viewMode ? { viewMode: options.viewMode } : {} });
  fakes.nix.add(LIB).add(APP, [LIB]);
  const count = { max: options.max ?? 100_000, used: options.used ?? 0 };
  fakes.container.rebind(MountBudget).toConstantValue({ count: () => Promise.resolve(count), claim: () => () => undefined });
  const events: NodeEvent[] = [];
  fakes.container.get<NodeEvents>(NodeEvents).subscribe((event) => events.push(event));
  return { publisher: fakes.container.get(VolumePublisher), fakes, count, events };
}

const request = (target: string, readonly = true): PublishRequest => ({
  volumeId: `vol-${target}`, targetPath: target, readonly, accessMode: 'single-node-writer', mountFlags: [], spec: { ...emptySpec(), storePaths: [APP] },
});

const presentations = (events: NodeEvent[]) => events.flatMap((event) => (event.kind === 'view-presentation' ? [`${event.presentation}/${event.reason}`] : []));

test('the selection order: hardlink mode, then read-write, then the budget', (t) => {
  const count = { max: 100_000, used: 1_000 };
  t.deepEqual(choosePresentation({ mode: 'hardlink', writable: false, paths: 200, farmExists: false, count }), { presentation: 'hardlink', reason: 'view-mode' });
  t.deepEqual(choosePresentation({ mode: 'bind-farm', writable: true, paths: 200, farmExists: false, count }), { presentation: 'hardlink', reason: 'read-write' });
  t.is(choosePresentation({ mode: 'auto', writable: false, paths: 200, farmExists: false, count }).presentation, 'bind-farm');
  t.is(bindFarmMounts(200, false), 605, 'the farm, the kept tree and the volume');
  t.is(bindFarmMounts(200, true), 202, 'the volume alone');
  t.is(mountHeadroom(100_000), 5_000);
  t.is(mountHeadroom(10), 100);
  // Exactly at the edge: used + needed + headroom = max still fits; one more does not.
  const edge = { max: 10_000, used: 10_000 - 500 - 605 };
  t.is(choosePresentation({ mode: 'auto', writable: false, paths: 200, farmExists: false, count: edge }).presentation, 'bind-farm');
  t.like(choosePresentation({ mode: 'auto', writable: false, paths: 200, farmExists: false, count: { ...edge, used: edge.used + 1 } }), { presentation: 'hardlink', reason: 'over-budget', needed: 605, available: 604 });
  t.is(choosePresentation({ mode: 'auto', writable: false, paths: 200, farmExists: true, count: { ...edge, used: edge.used + 1 } }).presentation, 'bind-farm', 'an existing farm needs only the volume\'s tree');
});

test('read-only volumes get a bind-farm view, read-write ones a hardlink view of their own, each counted', async (t) => {
  const { publisher, fakes, events } = setup();
  const ro = await publisher.publish(request('/t/ro'));
  const rw = await publisher.publish(request('/t/rw', false));
  t.not(ro.viewKey, rw.viewKey);
  t.is(fakes.views.views.get(ro.viewKey)?.presentation, 'bind-farm');
  t.is(fakes.views.views.get(rw.viewKey)?.presentation, 'hardlink');
  t.deepEqual(presentations(events), ['bind-farm/fits-budget', 'hardlink/read-write']);
  t.true(fakes.log.records.some((entry) => entry.message === 'building view' && entry.fields.presentation === 'bind-farm' && entry.fields.presentationReason === 'fits-budget'));
});

test('over the budget a read-only volume gets hardlinks, logged as a warning; when mounts are freed the next one is a bind farm again', async (t) => {
  const { publisher, fakes, events, count } = setup({ max: 1_000, used: 895 });
  const first = await publisher.publish(request('/t/1'));
  t.is(fakes.views.views.get(first.viewKey)?.presentation, 'hardlink');
  t.true(fakes.log.records.some((entry) => entry.level === 'warn' && entry.message === 'a bind farm would exceed the mount budget; the volume gets a hardlink view' && entry.fields.mountsNeeded === 11));
  count.used = 10;
  const second = await publisher.publish(request('/t/2'));
  t.is(fakes.views.views.get(second.viewKey)?.presentation, 'bind-farm');
  t.deepEqual(presentations(events), ['hardlink/over-budget', 'bind-farm/fits-budget']);
});

test('auto falls back to hardlinks when the node refuses a farm\'s mounts; bind-farm mode fails the publish instead', async (t) => {
  const auto = setup();
  auto.fakes.views.failNextMaterialize = new BindFarmUnavailableError('mount: Operation not permitted');
  const published = await auto.publisher.publish(request('/t/1'));
  t.is(auto.fakes.views.views.get(published.viewKey)?.presentation, 'hardlink');
  t.deepEqual(presentations(auto.events), ['hardlink/bind-farm-failed']);

  const strict = setup({ viewMode: 'bind-farm' });
  strict.fakes.views.failNextMaterialize = new BindFarmUnavailableError('mount: Operation not permitted');
  await t.throwsAsync(strict.publisher.publish(request('/t/1')), { instanceOf: BindFarmUnavailableError });
  t.is(strict.fakes.views.views.size, 0);
});

test('--view-mode hardlink never reads the mount budget', async (t) => {
  const { publisher, fakes } = setup({ viewMode: 'hardlink' });
  fakes.container.rebind(MountBudget).toConstantValue({ count: () => Promise.reject(new Error('read')), claim: () => () => undefined });
  const published = await publisher.publish(request('/t/1'));
  t.is(fakes.views.views.get(published.viewKey)?.presentation, 'hardlink');
});

test('a burst of publishes deciding on one reading cannot spend the same room twice: claims count until their mounts can be seen', async (t) => {
  const fakes = createTestContainer();
  const apps = [1, 2, 3, 4, 5].map((n) => `/nix/store/${String(n).repeat(32)}-app${n}`);
  for (const app of apps) fakes.nix.add(app);
  // Room for exactly two one-path farms (8 mounts each: farm 2, kept tree 3, the volume 3) above the headroom of 100.
  let claimed = 0;
  const reading = { max: 1_000, used: 1_000 - 100 - 16 };
  // One reading shared by every caller, as a reused one is: all resume together once it is in.
  const shared = new Promise((resolve) => setTimeout(resolve, 20));
  fakes.container.rebind(MountBudget).toConstantValue({
    count: async () => {
      await shared;
      return { max: reading.max, used: reading.used + claimed };
    },
    // The fake table never shows the mounts, so a settled claim keeps counting.
    claim: (mounts: number) => {
      claimed += mounts;
      return () => undefined;
    },
  });
  const events: NodeEvent[] = [];
  fakes.container.get<NodeEvents>(NodeEvents).subscribe((event) => events.push(event));
  const publisher = fakes.container.get(VolumePublisher);
  const published = await Promise.all(apps.map((app, n) => publisher.publish({ ...request(`/t/${n}`), volumeId: `vol-${n}`, spec: { ...emptySpec(), storePaths: [app] } })));
  const kinds = published.map((volume) => fakes.views.views.get(volume.viewKey)?.presentation);
  t.is(kinds.filter((kind) => kind === 'bind-farm').length, 2, kinds.join(', '));
  t.is(kinds.filter((kind) => kind === 'hardlink').length, 3);
  t.is(claimed, 16);
  t.deepEqual(presentations(events).sort(), ['bind-farm/fits-budget', 'bind-farm/fits-budget', 'hardlink/over-budget', 'hardlink/over-budget', 'hardlink/over-budget']);
});
