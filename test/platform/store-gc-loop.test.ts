import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { mkdir } from 'node:fs/promises';
import type { NodeEvent } from '../../src/core/ports/node-events.js';
import type { StoreGcResult } from '../../src/core/store-gc.js';
import { pushSigned, signingKey, startBinaryCache } from '../helpers/binary-cache.js';
import { loopFilesystem, spaceOf, spaceOfSync } from '../helpers/loop-fs.js';
import { buildFixture, copyToChrootStore, nixEnv } from '../helpers/nix.js';
import { startTestPlugin, type TestPlugin } from '../helpers/plugin.js';
import { nixmount } from '../helpers/serve-process.js';
import { publishRequest, storeOf, uniqueSalt } from '../helpers/sources.js';
import { tempDir } from '../helpers/temp.js';

// A 300 MiB filesystem holding a chroot store and the plugin's state dir (views are
// hardlinks into the store, so both live on it), filled with unrooted paths past the
// high watermark. The GC must bring it down to the low one without touching a path
// a view roots — of a volume still published, or of one gone but within --view-idle.

const MIB = 2 ** 20;
const HIGH = 85;
const LOW = 75;
const FILLER_MIB = 4;

interface Node {
  plugin: TestPlugin;
  storeRoot: string;
  storeUri: string;
  stateDir: string;
  fsRoot: string;
}

async function nodeOnSmallFilesystem(t: ExecutionContext, caches: string[] = [], keys: string[] = [], timeoutMs = 120_000): Promise<Node> {
  const fs = await loopFilesystem(t, 300);
  const storeRoot = join(fs.mountPoint, 'root');
  const storeUri = `local?root=${storeRoot}`;
  const stateDir = join(fs.mountPoint, 'state');
  const plugin = await startTestPlugin(t, {
    stateDir,
    // Views stay (with their roots) for 15 minutes after their last volume goes, as in production.
    settings: { viewIdleMs: 15 * 60_000 },
    nix: { storeUri, substituters: caches, trustedPublicKeys: keys },
    // Checked only when the test says so, and after each realise.
    storeGc: { highPercent: HIGH, lowPercent: LOW, intervalMs: 3_600_000, timeoutMs },
  });
  return { plugin, storeRoot, storeUri, stateDir, fsRoot: fs.mountPoint };
}

/** Adds files of random bytes (so nothing dedupes) to the store, unrooted. */
async function addRandomPaths(t: ExecutionContext, storeUri: string, count: number, mib: number, prefix: string): Promise<string[]> {
  const dir = await tempDir(t, 'nixmount-filler-');
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = join(dir, `${prefix}-${i}`);
    await writeFile(file, randomBytes(mib * MIB));
    files.push(file);
  }
  const { stdout } = await execa('nix-store', ['--store', storeUri, '--add', ...files], { env: nixEnv });
  return stdout.trim().split('\n');
}

/** Unrooted filler until the filesystem is `percent` used. */
async function fillTo(t: ExecutionContext, node: Node, percent: number): Promise<string[]> {
  const space = await spaceOf(node.fsRoot);
  const missing = (percent / 100) * space.totalBytes - (space.totalBytes - space.availableBytes);
  const count = Math.max(1, Math.ceil(missing / (FILLER_MIB * MIB)));
  return addRandomPaths(t, node.storeUri, count, FILLER_MIB, 'filler');
}

async function valid(storeUri: string, paths: string[]): Promise<string[]> {
  const { stdout } = await execa('nix-store', ['--store', storeUri, '--check-validity', '--print-invalid', ...paths], { env: nixEnv });
  const invalid = new Set(stdout.split('\n').filter(Boolean));
  return paths.filter((path) => !invalid.has(path));
}

const percent = (value: number) => `${value.toFixed(1)}%`;

test('above the high watermark the GC frees unrooted paths down to the low one; rooted paths stay and a concurrent publish succeeds', async (t) => {
  const cache = await startBinaryCache(t);
  const key = await signingKey(t, 'nixmount-test-storegc');
  const node = await nodeOnSmallFilesystem(t, [cache.url], [key.publicKey]);
  const { client, dir } = node.plugin;

  // Rooted by a published volume: a small real closure (app → lib → data) and 24 MiB of bytes.
  const held = await buildFixture(uniqueSalt());
  await copyToChrootStore(node.storeRoot, [held.root]);
  const [heldBlob] = await addRandomPaths(t, node.storeUri, 1, 24, 'held');
  const heldTarget = join(dir, 'held');
  await client.call('node', 'NodePublishVolume', publishRequest('vol-held', heldTarget, { paths: `${held.root} ${heldBlob}` }));
  // Rooted by a view whose volume is gone, still within --view-idle: a replacement pod must find it.
  const [idleBlob] = await addRandomPaths(t, node.storeUri, 1, 24, 'idle');
  const idleTarget = join(dir, 'idle');
  await client.call('node', 'NodePublishVolume', publishRequest('vol-idle', idleTarget, { paths: idleBlob! }));
  await client.call('node', 'NodeUnpublishVolume', { volume_id: 'vol-idle', target_path: idleTarget });

  // What the concurrent publish substitutes while the GC runs.
  const fresh = await buildFixture(uniqueSalt());
  await pushSigned(cache, key, [fresh.root]);

  const filler = await fillTo(t, node, 92);
  const before = await spaceOf(node.fsRoot);
  t.true(before.usedPercent >= HIGH, `filled to ${percent(before.usedPercent)}`);

  // The filesystem as each collection left it (read as its event is emitted; the concurrent publish writes more after).
  const gcEvents: Array<{ event: NodeEvent; space: ReturnType<typeof spaceOfSync> }> = [];
  node.plugin.plugin.services.events.subscribe((event) => {
    if (event.kind === 'store-gc') gcEvents.push({ event, space: spaceOfSync(node.fsRoot) });
  });
  const collector = node.plugin.plugin.services.storeGc;
  const freshTarget = join(dir, 'fresh');
  const [published, checks] = await Promise.all([
    client.call('node', 'NodePublishVolume', publishRequest('vol-fresh', freshTarget, { paths: fresh.root })),
    (async () => {
      // A check while the publish realises is deferred (its paths are not rooted yet); a later one
      // collects — this loop's, or the check that follows the publish's realise (this one then joins it or finds it done).
      const results: StoreGcResult[] = [];
      do {
        results.push(await collector.check('periodic'));
        if (results.at(-1)!.action === 'deferred') await new Promise((resolve) => setTimeout(resolve, 50));
      } while (results.at(-1)!.action === 'deferred');
      return results.map((result) => result.action);
    })(),
  ]);
  t.is(gcEvents.length, 1, 'one collection');
  const [{ event, space: after }] = gcEvents as [(typeof gcEvents)[0]];
  const final = await spaceOf(node.fsRoot);
  const deleted = filler.length - (await valid(node.storeUri, filler)).length;
  t.log(
    `300 MiB loop filesystem: before ${percent(before.usedPercent)} used (${(before.availableBytes / MIB).toFixed(1)} MiB free), ` +
      `after ${percent(after.usedPercent)} used (${(after.availableBytes / MIB).toFixed(1)} MiB free); ` +
      `${deleted} of ${filler.length} filler paths deleted; after the publish ${percent(final.usedPercent)} used; checks: ${checks.join(', ')}`,
  );

  // Down to the low watermark, and not much below it: --max-freed stops Nix (within one filler path).
  t.true(after.usedPercent <= LOW, `at or below ${LOW}% used`);
  t.true(after.availableBytes >= after.totalBytes * (1 - LOW / 100));
  // --max-freed stops Nix near what was asked: far from every unrooted path.
  t.true(after.usedPercent > LOW - 8, 'not much more than the low watermark asked');
  t.true(deleted > 0 && deleted < filler.length / 2);
  t.like(event, { kind: 'store-gc', outcome: 'ok' });
  t.true(event.kind === 'store-gc' && event.bytesFreed >= (after.availableBytes - before.availableBytes) * 0.8, 'Nix\'s count is about what statfs saw');
  t.true(final.usedPercent < HIGH, 'the publish that went on during the collection did not bring it back above high');

  // Every rooted path is intact: the held volume's, the idle view's, and what the concurrent publish brought.
  const rooted = [...held.closure, heldBlob!, idleBlob!, ...fresh.closure];
  t.deepEqual(await valid(node.storeUri, rooted), rooted);
  t.deepEqual(await storeOf(heldTarget), [...held.closure, heldBlob!].sort());
  t.is(await readFile(join(heldTarget, 'store', held.closure.find((path) => path.includes('fixture-data'))!.slice(11), 'share/greeting'), 'utf8').then((text) => text.startsWith('greetings from the data path')), true);
  t.deepEqual(published, {});
  t.deepEqual(await storeOf(freshTarget), fresh.closure);
  // A view's own Nix database costs the disk no 8 MiB `reserved` file (Nix's gc-reserved-space).
  for (const target of [heldTarget, freshTarget]) t.is((await stat(join(target, 'var/nix/db/reserved')).catch(() => ({ size: 0 }))).size, 0);
  // The idle view is still there for a replacement pod: publishing it again reuses it.
  await client.call('node', 'NodePublishVolume', publishRequest('vol-idle-2', join(dir, 'idle-2'), { paths: idleBlob! }));
  t.deepEqual(await storeOf(join(dir, 'idle-2')), [idleBlob]);
});

test('`nixmount gc --store-paths` runs next to a serving plugin: one check, collecting down to low, saying what it did', async (t) => {
  const node = await nodeOnSmallFilesystem(t);
  const [heldBlob] = await addRandomPaths(t, node.storeUri, 1, 24, 'held');
  await node.plugin.client.call('node', 'NodePublishVolume', publishRequest('vol-held', join(node.plugin.dir, 'held'), { paths: heldBlob! }));
  const args = ['gc', '--store-paths', '--store', node.storeUri, '--state-dir', node.stateDir, '--store-gc-high', String(HIGH), '--store-gc-low', String(LOW)];

  const idle = await nixmount(args);
  t.is(idle.exitCode, 0, idle.stderr);
  t.regex(idle.stdout, new RegExp(`^store filesystem \\d+\\.\\d% used, below the high watermark ${HIGH}%: nothing collected$`));

  await fillTo(t, node, 90);
  const before = await spaceOf(node.fsRoot);
  const run = await nixmount(args);
  const after = await spaceOf(node.fsRoot);
  t.log(`gc --store-paths: before ${percent(before.usedPercent)} used, after ${percent(after.usedPercent)} used; ${run.stdout}`);
  t.is(run.exitCode, 0, run.stderr);
  t.regex(run.stdout, new RegExp(`^store filesystem was \\d+\\.\\d% used \\(high ${HIGH}%, low ${LOW}%\\): \\d+ store path\\(s\\) deleted, \\d+\\.\\d MiB freed in \\d+\\.\\d s, now \\d+\\.\\d% used$`));
  t.true(after.usedPercent <= LOW);
  t.deepEqual(await valid(node.storeUri, [heldBlob!]), [heldBlob]);

  const half = await nixmount(['gc', '--store-paths', '--store', node.storeUri, '--store-gc-high', '85']);
  t.is(half.exitCode, 2);
  t.regex(half.stderr, /--store-gc-high and --store-gc-low go together/);
});

test('a collection stuck on Nix\'s GC lock is killed at its timeout, reported as timed out, and the next check collects', async (t) => {
  const node = await nodeOnSmallFilesystem(t, [], [], 2000);
  await fillTo(t, node, 90);
  const gcEvents: NodeEvent[] = [];
  node.plugin.plugin.services.events.subscribe((event) => {
    if (event.kind === 'store-gc') gcEvents.push(event);
  });
  // Another process holds the store's big GC lock (a hung nix-collect-garbage, say): Nix waits on it.
  const lock = join(node.storeRoot, 'nix/var/nix/gc.lock');
  await mkdir(join(node.storeRoot, 'nix/var/nix'), { recursive: true });
  await writeFile(lock, '');
  // One process (the shell execs sleep) holds the lock, so killing it frees the lock at once.
  const holder = execa('sh', ['-c', `exec 9>"${lock}"; flock -x 9; exec sleep 120`], { reject: false, stdio: 'ignore' });
  t.teardown(() => {
    holder.kill('SIGKILL');
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const collector = node.plugin.plugin.services.storeGc;

  const started = Date.now();
  const stuck = await collector.check('periodic');
  const seconds = (Date.now() - started) / 1000;
  t.like(stuck, { action: 'collected', outcome: 'timeout', bytesFreed: 0 });
  t.regex(String((stuck as { error?: Error }).error?.message), /^nix-store --gc timed out after 2 s and was killed/);
  t.true(seconds >= 2 && seconds < 4, `killed at its bound (${seconds.toFixed(1)} s)`);
  t.like(gcEvents, [{ kind: 'store-gc', outcome: 'timeout', bytesFreed: 0, trigger: 'periodic' }]);

  holder.kill('SIGKILL');
  await holder;
  const next = await collector.check('periodic');
  t.like(next, { action: 'collected', outcome: 'ok' });
  t.true(usedPercentOf(next) <= LOW);
  t.deepEqual(gcEvents.map((event) => event.kind === 'store-gc' && event.outcome), ['timeout', 'ok']);
});

function usedPercentOf(result: StoreGcResult): number {
  if (result.action !== 'collected' || !result.after) return 100;
  return ((result.after.totalBytes - result.after.availableBytes) / result.after.totalBytes) * 100;
}
