import test from 'ava';
import { BuildFailedError } from '../../src/core/errors.js';
import { NodeEvents, type NodeEvent } from '../../src/core/ports/node-events.js';
import { VolumePublisher } from '../../src/core/volume-publisher.js';
import type { PublishRequest } from '../../src/core/volume-request.js';
import { emptySpec } from '../../src/core/volume-spec.js';
import { Deferred } from '../helpers/fakes.js';
import { createTestContainer } from '../helpers/test-container.js';

// What the publisher tells NodeEvents listeners beyond success and failure: realise
// progress for each waiting call, and where a publish failed (Kubernetes Events map it).

const APP = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app';
const REMOTE = '/nix/store/dddddddddddddddddddddddddddddddd-remote';
const NOWHERE = '/nix/store/ffffffffffffffffffffffffffffffff-nowhere';

function setup(progressEveryMs = 40) {
  const fakes = createTestContainer({ sources: { progressEveryMs } });
  fakes.nix.add(APP).add(REMOTE, [], 'cache');
  const events: NodeEvent[] = [];
  fakes.container.get<NodeEvents>(NodeEvents).subscribe((event) => events.push(event));
  return { publisher: fakes.container.get(VolumePublisher), fakes, events };
}

function request(target: string, paths: string[], pod: string): PublishRequest {
  return {
    volumeId: `vol-${target}`, targetPath: target, readonly: true, accessMode: 'multi-node-reader-only', mountFlags: [],
    spec: { ...emptySpec(), storePaths: paths }, workload: { pod, podUid: `uid-${pod}` },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('each call waiting on one shared realisation hears its progress, with its own workload and target', async (t) => {
  const { publisher, fakes, events } = setup();
  fakes.nix.realiseGate = new Deferred();
  const first = publisher.publish(request('/t/a', [REMOTE], 'ns/a'));
  const second = publisher.publish(request('/t/b', [REMOTE], 'ns/b'));
  // Each call hears progress every 40 ms while it waits (polled, bounded: the machine may be loaded).
  const heardBy = (target: string) => events.filter((event) => event.kind === 'realise-progress' && event.targetPath === target).length;
  for (let i = 0; i < 100 && (heardBy('/t/a') < 2 || heardBy('/t/b') < 2); i++) await sleep(50);
  fakes.nix.realiseGate.resolve();
  await Promise.all([first, second]);
  const progress = events.filter((event) => event.kind === 'realise-progress');
  t.is(fakes.nix.calls.realise.length, 1, 'one realisation for both calls');
  for (const [target, pod] of [['/t/a', 'ns/a'], ['/t/b', 'ns/b']] as const) {
    const mine = progress.filter((event) => event.targetPath === target);
    t.true(mine.length >= 2, `${target} heard progress ${mine.length} times`);
    for (const event of mine) {
      t.like(event, { workload: { pod, podUid: `uid-${pod}` }, volumeId: `vol-${target}`, summary: 'realising: fetching 1/1 paths (1.5 MiB to download)' });
    }
  }
  const heard = progress.length;
  await sleep(120);
  t.is(events.filter((event) => event.kind === 'realise-progress').length, heard, 'nothing once the calls have their answer');
  t.deepEqual(
    events.filter((event) => event.kind === 'publish-finished').map((event) => event.kind === 'publish-finished' && event.targetPath).sort(),
    ['/t/a', '/t/b'],
  );
});

test('a realise that finishes before progressEveryMs reports no progress', async (t) => {
  const { publisher, events } = setup(5000);
  await publisher.publish(request('/t/a', [REMOTE], 'ns/a'));
  t.deepEqual(events.filter((event) => event.kind.startsWith('publish') || event.kind.startsWith('realise-progress')).map((event) => event.kind), ['publish-finished']);
});

test('a failed publish says in which phase, and names the missing paths or the failed derivation', async (t) => {
  const { publisher, fakes, events } = setup();
  const failure = () => events.filter((event) => event.kind === 'publish-failed').at(-1) as Extract<NodeEvent, { kind: 'publish-failed' }>;

  await t.throwsAsync(publisher.publish(request('/t/1', [NOWHERE], 'ns/p')));
  t.like(failure(), { reason: 'FailedPrecondition', phase: 'realise', targetPath: '/t/1', missingPaths: [NOWHERE], workload: { pod: 'ns/p' } });
  t.is(failure().failedDerivation, undefined);

  fakes.nix.add('/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-built', [], 'cache');
  fakes.nix.realiseError = new BuildFailedError('/nix/store/x-thing.drv', ['fatal: no']);
  await t.throwsAsync(publisher.publish(request('/t/2', ['/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-built'], 'ns/p')));
  t.like(failure(), { reason: 'FailedPrecondition', phase: 'realise', failedDerivation: '/nix/store/x-thing.drv' });
  t.is(failure().missingPaths, undefined);
  fakes.nix.realiseError = undefined;

  fakes.views.failNextMaterialize = new Error('disk full');
  await t.throwsAsync(publisher.publish(request('/t/3', [APP], 'ns/p')));
  t.like(failure(), { reason: 'Internal', phase: 'view', message: 'disk full' });

  fakes.mounter.failNextMount = new Error('mount: permission denied');
  await t.throwsAsync(publisher.publish(request('/t/4', [APP], 'ns/p')));
  t.like(failure(), { reason: 'Internal', phase: 'mount' });

  await publisher.publish(request('/t/5', [APP], 'ns/p'));
  await t.throwsAsync(publisher.publish({ ...request('/t/5', [APP], 'ns/p'), volumeId: 'another' }));
  t.like(failure(), { reason: 'AlreadyExists', targetPath: '/t/5' });
  t.false('phase' in failure(), 'refused before the pipeline ran');
});
