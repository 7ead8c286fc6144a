import test from 'ava';
import { NodeRecovery } from '../../src/core/node-recovery.js';
import { ViewManager } from '../../src/core/view-manager.js';
import { VolumePublisher } from '../../src/core/volume-publisher.js';
import { VolumeStager } from '../../src/core/volume-stager.js';
import { emptySpec } from '../../src/core/volume-spec.js';
import type { VolumeRecord } from '../../src/core/ports/volume-state.js';
import { createTestContainer } from '../helpers/test-container.js';

// Who holds a view is the view manager's to know: records register and drop their holds
// with it (the mount lifecycle, recovery at start); nobody reads the record stores for it.

const APP = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app';
const spec = { ...emptySpec(), storePaths: [APP] };

function setup() {
  const fakes = createTestContainer();
  fakes.nix.add(APP);
  const get = <T>(id: new (...args: never[]) => T) => fakes.container.get<T>(id);
  return { fakes, views: get(ViewManager), publisher: get(VolumePublisher), stager: get(VolumeStager), recovery: get(NodeRecovery) };
}

test('a volume record and a stage record at the same key are two holders: dropping one keeps the view', (t) => {
  const { views } = setup();
  views.hold('v', { kind: 'volume', key: 'k' });
  views.hold('v', { kind: 'stage', key: 'k' });
  views.drop('v', { kind: 'volume', key: 'k' });
  t.true(views.isHeld('v'));
  views.drop('v', { kind: 'stage', key: 'k' });
  t.false(views.isHeld('v'));
  views.drop('v', { kind: 'stage', key: 'k' });
  t.false(views.isHeld('v'), 'a second drop is harmless');
});

test('a publish holds its view from its record on; its unpublish drops the hold and the view goes', async (t) => {
  const { views, publisher, fakes } = setup();
  const { viewKey } = await publisher.publish({ volumeId: 'a', targetPath: '/t/a', readonly: true, accessMode: 'multi-node-reader-only', mountFlags: [], spec });
  t.true(views.isHeld(viewKey));
  t.is(views.callsInFlight(), 0, 'held by its record, not by a lease');
  await publisher.unpublish('a', '/t/a');
  t.false(views.isHeld(viewKey));
  t.false(fakes.views.views.has(viewKey), '--view-idle 0: collected at once');
});

test('a stage holds its view until unstaged, across the publishes from it', async (t) => {
  const { views, stager, publisher } = setup();
  const staging = '/csi/staging/v';
  const { viewKey } = await stager.stage({ volumeId: 'v', stagingPath: staging, accessMode: 'multi-node-reader-only', spec });
  await publisher.publish({ volumeId: 'v', targetPath: '/csi/per-alloc/1', readonly: true, accessMode: 'multi-node-reader-only', mountFlags: [], spec, stagingPath: staging });
  await publisher.unpublish('v', '/csi/per-alloc/1');
  t.true(views.isHeld(viewKey), 'the stage record still holds it');
  await stager.unstage('v', staging);
  t.false(views.isHeld(viewKey));
});

test('recovery registers the records found at start, and forgets holds of records no longer there', async (t) => {
  const { views, recovery, fakes } = setup();
  const record: VolumeRecord = {
    key: 'found', volumeId: 'f', targetPath: '/t/found', readonly: true, accessMode: 'multi-node-reader-only',
    requestFingerprint: '{}', viewKey: 'on-disk', roots: [APP], publishedAt: new Date(0).toISOString(), origin: 'csi',
  };
  // As the record store loads it from disk: the view manager has not been told yet.
  fakes.state.records.set(record.key, record);
  views.hold('stale', { kind: 'volume', key: 'gone' });
  t.false(views.isHeld('on-disk'));
  await recovery.recover();
  t.true(views.isHeld('on-disk'));
  t.false(views.isHeld('stale'), 'a hold without its record does not survive a start');
});
