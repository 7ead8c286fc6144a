import test from 'ava';
import { CommandFailedError } from '../../src/core/errors.js';
import { StoreGarbage, type CollectOptions, type CollectResult, type StoreSpace } from '../../src/core/ports/nix-store.js';
import { NodeEvents, type NodeEvent } from '../../src/core/ports/node-events.js';
import { RealisationTracker } from '../../src/core/realisation-tracker.js';
import { StoreGarbageCollector } from '../../src/core/store-gc.js';
import { StoreGcSettings, bytesToFree, usedPercent } from '../../src/core/store-watermarks.js';
import { VolumePublisher } from '../../src/core/volume-publisher.js';
import { emptySpec } from '../../src/core/volume-spec.js';
import { Deferred } from '../helpers/fakes.js';
import { createTestContainer } from '../helpers/test-container.js';

const GIB = 2 ** 30;
const APP = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app';

/**
 * A store filesystem of `total` bytes whose collector frees what it is asked for
 * (or what `answer` says), one scripted answer per call.
 */
class FakeStoreGarbage implements StoreGarbage {
  spaceCalls = 0;
  readonly collects: CollectOptions[] = [];
  /** Each collect waits for this gate when set. */
  gate?: Deferred;
  /** Thrown by the next collect, then cleared. */
  failNext?: Error;
  /** The next collect never answers. */
  hangNext = false;
  /** What share of the bytes Nix reports freed the filesystem really gets back. */
  diskShare = 1;

  constructor(public space_: StoreSpace) {}

  async space(): Promise<StoreSpace> {
    this.spaceCalls++;
    return { ...this.space_ };
  }

  async collect(options: CollectOptions): Promise<CollectResult> {
    this.collects.push(options);
    if (this.hangNext) {
      this.hangNext = false;
      return new Promise(() => undefined);
    }
    await this.gate?.promise;
    const failure = this.failNext;
    if (failure) {
      this.failNext = undefined;
      throw failure;
    }
    this.space_ = { ...this.space_, availableBytes: this.space_.availableBytes + options.maxFreedBytes * this.diskShare };
    return { bytesFreed: options.maxFreedBytes, pathsDeleted: 3 };
  }
}

function setup(settings: Partial<StoreGcSettings> = {}, usedGib = 9) {
  const fakes = createTestContainer();
  const garbage = new FakeStoreGarbage({ totalBytes: 10 * GIB, availableBytes: (10 - usedGib) * GIB });
  fakes.container.bind(StoreGarbage).toConstantValue(garbage);
  fakes.container.bind(StoreGcSettings).toConstantValue({ highPercent: 85, lowPercent: 75, intervalMs: 60_000, timeoutMs: 60_000, ...settings });
  const events: NodeEvent[] = [];
  fakes.container.get<NodeEvents>(NodeEvents).subscribe((event) => {
    if (event.kind === 'store-gc') events.push(event);
  });
  const gc = fakes.container.get(StoreGarbageCollector);
  return { ...fakes, garbage, gc, events };
}

test('the watermark arithmetic: used as kubelet counts it, and bytes to free down to low only at or above high', (t) => {
  const space = { totalBytes: 1000, availableBytes: 150 };
  t.is(usedPercent(space), 85);
  t.is(bytesToFree(space, { highPercent: 85, lowPercent: 75 }), 100);
  t.is(bytesToFree(space, { highPercent: 86, lowPercent: 75 }), 0);
  t.is(bytesToFree(space, { highPercent: undefined, lowPercent: 75 }), 0);
  t.is(bytesToFree({ totalBytes: 1000, availableBytes: 0 }, { highPercent: 90, lowPercent: 50 }), 500);
});

test('off without watermarks: nothing is read or collected', async (t) => {
  const { gc, garbage, events } = setup({ highPercent: undefined, lowPercent: undefined });
  t.false(gc.enabled);
  t.deepEqual(await gc.check('periodic'), { action: 'disabled' });
  gc.start();
  gc.stop();
  t.is(garbage.spaceCalls, 0);
  t.deepEqual(events, []);
});

test('below the high watermark nothing is collected', async (t) => {
  const { gc, garbage, events } = setup({}, 8);
  const result = await gc.check('periodic');
  t.is(result.action, 'below-high');
  t.is(result.action === 'below-high' && Math.round(result.usedPercent), 80);
  t.deepEqual(garbage.collects, []);
  t.deepEqual(events, []);
});

test('at or above high, the collector is asked to free down to low, with the timeout, and a store-gc event says so', async (t) => {
  const { gc, garbage, events, log } = setup({ timeoutMs: 60_000 }, 9);
  const result = await gc.check('periodic');
  t.is(garbage.collects.length, 1);
  t.is(garbage.collects[0]!.maxFreedBytes, 1.5 * GIB);
  t.true(garbage.collects[0]!.timeoutMs > 59_000 && garbage.collects[0]!.timeoutMs <= 60_000);
  t.is(result.action, 'collected');
  if (result.action !== 'collected') return;
  t.is(result.outcome, 'ok');
  t.is(result.bytesFreed, 1.5 * GIB);
  t.is(usedPercent(result.after!), 75);
  t.is(events.length, 1);
  t.like(events[0], { kind: 'store-gc', outcome: 'ok', bytesFreed: 1.5 * GIB, trigger: 'periodic' });
  t.is(log.count('store garbage collected'), 1);
});

test('a failed collection is logged, reported as failed, and retried at the next check', async (t) => {
  const { gc, garbage, events, log } = setup();
  garbage.failNext = new CommandFailedError('nix-store --gc', 1, 'error: cannot delete path');
  const first = await gc.check('periodic');
  t.like(first, { action: 'collected', outcome: 'failed', bytesFreed: 0 });
  t.is(log.count('store garbage collection failed; retried at the next check'), 1);
  const second = await gc.check('periodic');
  t.like(second, { action: 'collected', outcome: 'ok' });
  t.is(garbage.collects.length, 2);
  t.deepEqual(events.map((event) => event.kind === 'store-gc' && event.outcome), ['failed', 'ok']);
});

test('a collection the collector kills at its bound counts as timed out, and is retried', async (t) => {
  const { gc, garbage, events } = setup();
  garbage.failNext = new CommandFailedError('nix-store --gc', undefined, '', { timedOut: true, timeoutMs: 60_000 });
  t.like(await gc.check('periodic'), { action: 'collected', outcome: 'timeout' });
  t.like(await gc.check('periodic'), { action: 'collected', outcome: 'ok' });
  t.deepEqual(events.map((event) => event.kind === 'store-gc' && event.outcome), ['timeout', 'ok']);
});

test('a collector that never answers is given up after its timeout and a grace, counted as timed out, and the next check runs', async (t) => {
  const { gc, garbage, events } = setup({ timeoutMs: 40 });
  garbage.hangNext = true;
  const started = Date.now();
  const result = await gc.check('periodic');
  t.like(result, { action: 'collected', outcome: 'timeout' });
  t.true(Date.now() - started >= 75, 'the timeout and the grace');
  t.regex(String((result as { error?: Error }).error?.message), /nix-store --gc timed out/);
  t.like(await gc.check('periodic'), { action: 'collected', outcome: 'ok' });
  t.is(events.length, 2);
});

test('one collection at a time: checks during a collection join it', async (t) => {
  const { gc, garbage, events } = setup();
  garbage.gate = new Deferred();
  const checks = [gc.check('periodic'), gc.check('realise'), gc.check('periodic')];
  await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(garbage.collects.length, 1);
  garbage.gate.resolve();
  const results = await Promise.all(checks);
  t.true(results.every((result) => result === results[0]));
  t.is(events.length, 1);
  t.is((await gc.check('periodic')).action, 'below-high', 'the next check starts afresh');
});

test('publishes go on while a collection runs: it holds nothing they need', async (t) => {
  const { gc, garbage, nix, container, mounter } = setup();
  nix.add(APP);
  garbage.gate = new Deferred();
  const collecting = gc.check('periodic');
  await new Promise((resolve) => setTimeout(resolve, 10));
  const published = await container.get(VolumePublisher).publish({
    volumeId: 'vol-1', targetPath: '/t/1', readonly: true, accessMode: 'single-node-reader-only', mountFlags: [],
    spec: { ...emptySpec(), storePaths: [APP] },
  });
  t.deepEqual(published.roots, [APP]);
  t.true(mounter.mounts.has('/t/1'));
  garbage.gate.resolve();
  t.like(await collecting, { action: 'collected', outcome: 'ok' });
});

test('no collection starts while a realisation is in flight (its paths are not rooted yet), unless that lasts a whole interval', async (t) => {
  const { gc, garbage, container, clock } = setup({ intervalMs: 60_000 });
  const gate = new Deferred<string>();
  const realising = container.get(RealisationTracker).run('source', 'a source', () => gate.promise);
  t.like(await gc.check('periodic'), { action: 'deferred' });
  clock.advance(30_000);
  t.like(await gc.check('periodic'), { action: 'deferred' });
  t.deepEqual(garbage.collects, []);
  clock.advance(30_000);
  t.like(await gc.check('periodic'), { action: 'collected', outcome: 'ok' }, 'deferred a whole interval: collected anyway');
  gate.resolve('done');
  await realising;
});

test('`gc --store-paths` (trigger command) is never deferred', async (t) => {
  const { gc, container } = setup();
  const gate = new Deferred<string>();
  const realising = container.get(RealisationTracker).run('source', 'a source', () => gate.promise);
  t.like(await gc.check('command'), { action: 'collected', outcome: 'ok' });
  gate.resolve('done');
  await realising;
});

test('started, it checks at once and after each realise (a view built, a publish that built one, a failed realise), not after a reused view', async (t) => {
  const { gc, garbage, container } = setup({}, 5);
  const events = container.get<NodeEvents>(NodeEvents);
  gc.start();
  t.teardown(() => gc.stop());
  await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(garbage.spaceCalls, 1, 'a check at start');
  const publish = { kind: 'publish-finished', workload: {}, volumeId: 'v', targetPath: '/t', readonly: true, paths: 1, seconds: 0, phases: { realise: 0, view: 0, mount: 0 } } as const;
  events.emit({ ...publish, viewReused: true });
  events.emit({ kind: 'realise-finished', ok: true, fetched: 1, built: 0, downloadMiB: 1, seconds: 1 });
  await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(garbage.spaceCalls, 1, 'no check after a reused view, nor after a realise its view has not rooted yet');
  events.emit({ ...publish, viewReused: false });
  await new Promise((resolve) => setTimeout(resolve, 5));
  events.emit({ kind: 'view-built', viewKey: 'k', paths: 1, seconds: 0 });
  await new Promise((resolve) => setTimeout(resolve, 5));
  events.emit({ kind: 'realise-finished', ok: false, reason: 'Internal', fetched: 0, built: 0, downloadMiB: 0, seconds: 1 });
  await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(garbage.spaceCalls, 4);
  gc.stop();
  events.emit({ ...publish, viewReused: false });
  await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(garbage.spaceCalls, 4, 'stopped: no more checks');
});

test('when the filesystem got back less than Nix counted, the collection goes on for the rest, three rounds at most', async (t) => {
  const { gc, garbage, events, log } = setup({}, 9);
  garbage.diskShare = 0.5;
  const result = await gc.check('periodic');
  t.deepEqual(garbage.collects.map((call) => call.maxFreedBytes / GIB), [1.5, 0.75, 0.375]);
  t.like(result, { action: 'collected', outcome: 'ok', bytesFreed: 2.625 * GIB });
  t.is(events.length, 1, 'one collection, one event');
  t.like(events[0], { bytesFreed: 2.625 * GIB });
  t.is(log.count('store garbage collected, still above the low watermark: the rest is rooted (views in use or idle, other GC roots)'), 1);

  garbage.diskShare = 1;
  garbage.space_ = { totalBytes: 10 * GIB, availableBytes: 1 * GIB };
  garbage.collects.length = 0;
  await gc.check('periodic');
  t.is(garbage.collects.length, 1, 'the filesystem got it all back: one round');
});

test('work that finished while every caller had been answered ABORTED holds the collection off until its retry picks it up', async (t) => {
  const fakes = createTestContainer({ sources: { realiseWaitMs: 20 } });
  const garbage = new FakeStoreGarbage({ totalBytes: 10 * GIB, availableBytes: 1 * GIB });
  fakes.container.bind(StoreGarbage).toConstantValue(garbage);
  fakes.container.bind(StoreGcSettings).toConstantValue({ highPercent: 85, lowPercent: 75, intervalMs: 60_000, timeoutMs: 60_000 });
  const gc = fakes.container.get(StoreGarbageCollector);
  const tracker = fakes.container.get(RealisationTracker);
  const gate = new Deferred<string>();
  await t.throwsAsync(tracker.run('source', 'a source', () => gate.promise), { message: /still preparing a source/ });
  gate.resolve('roots');
  await new Promise((resolve) => setTimeout(resolve, 5));
  t.like(await gc.check('periodic'), { action: 'deferred' }, 'valid, unrooted, its retry to come');
  t.is(await tracker.run('source', 'a source', async () => 'roots again'), 'roots again');
  t.like(await gc.check('periodic'), { action: 'collected', outcome: 'ok' }, 'picked up: the caller roots it');
});

test('work a caller waited for to the end holds nothing off after it', async (t) => {
  const { gc, container } = setup();
  t.is(await container.get(RealisationTracker).run('source', 'a source', async () => 'roots'), 'roots');
  t.like(await gc.check('periodic'), { action: 'collected' });
});
