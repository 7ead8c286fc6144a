import test from 'ava';
import { ViewManager } from '../../src/core/view-manager.js';
import { VolumePublisher } from '../../src/core/volume-publisher.js';
import { emptySpec } from '../../src/core/volume-spec.js';
import { createTestContainer } from '../helpers/test-container.js';

const APP = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app';
const LIB = '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib';

function publishAt(publisher: VolumePublisher, target: string) {
  return publisher.publish({ volumeId: target, targetPath: target, readonly: true, accessMode: 'multi-node-reader-only', mountFlags: [], spec: { ...emptySpec(), storePaths: [APP] } });
}

test('a closure a view roots is answered from memory; once the view is collected Nix is asked again', async (t) => {
  const fakes = createTestContainer({ settings: { viewIdleMs: 60_000 } });
  fakes.nix.add(LIB).add(APP, [LIB]);
  const publisher = fakes.container.get(VolumePublisher);
  const views = fakes.container.get(ViewManager);

  const first = await publishAt(publisher, '/t/1');
  t.is(fakes.nix.calls.query, 1, 'the cold publish asks once: valid, and the closure');
  await publishAt(publisher, '/t/2');
  await publishAt(publisher, '/t/3');
  t.is(fakes.nix.calls.query, 1, 'warm publishes of a rooted closure start no Nix process');

  for (const target of ['/t/1', '/t/2', '/t/3']) await publisher.unpublish(target, target);
  fakes.clock.advance(60_000);
  t.deepEqual(await views.collect(60_000), [first.viewKey]);
  await publishAt(publisher, '/t/4');
  t.is(fakes.nix.calls.query, 2, 'without the view its roots may have been collected: the store is asked again');
});

test('the view is registered with the registration its own closure query answered, handed along with the closure', async (t) => {
  const fakes = createTestContainer();
  fakes.nix.add(LIB).add(APP, [LIB]);
  const publisher = fakes.container.get(VolumePublisher);
  const { viewKey } = await publishAt(publisher, '/t/1');
  // The fake view store keeps what it was asked to materialize; registering is the view store's call.
  await fakes.views.views.get(viewKey)!.register('/views/root');
  t.is(fakes.nix.registered.length, 1);
  const [{ closure, rootDir }] = fakes.nix.registered;
  t.is(rootDir, '/views/root');
  t.deepEqual(closure.paths, [LIB, APP].sort());
  t.deepEqual(closure.registration, { size: 2, answer: 1 });
});

test('views gone from under a running node (its state dir wiped) lose their GC roots; a view being built keeps its own', async (t) => {
  const fakes = createTestContainer({ settings: { viewIdleMs: 60_000 } });
  fakes.nix.add(LIB).add(APP, [LIB]);
  const publisher = fakes.container.get(VolumePublisher);
  const views = fakes.container.get(ViewManager);
  const { viewKey } = await publishAt(publisher, '/t/1');
  t.deepEqual(await views.dropRootsOfVanishedViews(), [], 'a view that is there keeps its roots');
  t.true(fakes.nix.gcRoots.has(viewKey));

  fakes.views.views.delete(viewKey); // its directory removed behind the node's back
  // A build under way: roots first, the view's directory only once it is renamed into place.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const materialize = fakes.views.materialize.bind(fakes.views);
  fakes.views.materialize = async (key, contents) => {
    await gate;
    return materialize(key, contents);
  };
  const building = publisher.publish({ volumeId: '/t/2', targetPath: '/t/2', readonly: true, accessMode: 'multi-node-reader-only', mountFlags: [], spec: { ...emptySpec(), storePaths: [LIB] } });
  await new Promise((resolve) => setTimeout(resolve, 20));
  const buildingKey = [...fakes.nix.gcRoots.keys()].find((key) => key !== viewKey);
  t.truthy(buildingKey, 'the view being built has its roots already');

  t.deepEqual(await views.dropRootsOfVanishedViews(), [viewKey]);
  t.false(fakes.nix.gcRoots.has(viewKey));
  release();
  await building;
  t.true(fakes.nix.gcRoots.has(buildingKey!), 'the view being built kept its roots');
});
