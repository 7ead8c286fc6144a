import test from 'ava';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { execa } from 'execa';
import { buildFixture, copyToChrootStore, nixEnv, type Fixture } from '../helpers/nix.js';
import { startTestPlugin, type TestPlugin } from '../helpers/plugin.js';
import { nixmount } from '../helpers/serve-process.js';
import { publishRequest, storeOf, uniqueSalt } from '../helpers/sources.js';
import { tempDir } from '../helpers/temp.js';

// A garbage collection of the node store is under way (the plugin's `nixmount gc
// --store-paths`, or an operator's nix-collect-garbage) when publishes of closures
// nothing roots yet begin. Whatever the collection reaches first, a volume answered
// OK must have its whole closure valid and readable; one that lost the race must fail
// with a code the orchestrator retries on, never INTERNAL, and leave nothing rooted.

const FILLER = 10_000;
const CLOSURES = 9;

async function addFiller(dir: string, storeUri: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < FILLER; i++) {
    const file = join(dir, `filler-${i}`);
    await writeFile(file, `filler ${i}\n`);
    files.push(file);
  }
  await execa('nix-store', ['--store', storeUri, '--add', ...files], { env: nixEnv });
}

async function invalid(storeUri: string, paths: readonly string[]): Promise<string[]> {
  const { stdout } = await execa('nix-store', ['--store', storeUri, '--check-validity', '--print-invalid', ...paths], { env: nixEnv });
  return stdout.split('\n').filter(Boolean);
}

async function until(condition: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

type Collection = Promise<{ exitCode?: number; stdout: string; stderr?: string }>;

/** The collections a node sees: the plugin's own (serve's watermarks), `nixmount gc --store-paths`, the host's nix-collect-garbage. */
const COLLECTORS: Record<string, (storeUri: string, dir: string, node: TestPlugin) => Collection> = {
  'nixmount gc --store-paths': (storeUri, dir) =>
    nixmount(['gc', '--store-paths', '--store', storeUri, '--state-dir', join(dir, 'gc-state'), '--store-gc-high', '1', '--store-gc-low', '0']),
  'nix-collect-garbage': (storeUri) => execa('nix-collect-garbage', ['--store', storeUri], { env: nixEnv, reject: false }),
  "serve's own store GC": async (_storeUri, _dir, node) => {
    const result = await node.plugin.services.storeGc.check('command');
    if (result.action !== 'collected') return { exitCode: 1, stdout: result.action };
    return { exitCode: result.outcome === 'ok' ? 0 : 1, stdout: `${result.pathsDeleted} store path(s) deleted` };
  },
};

type Answer = { ok: true } | { ok: false; code: number; details: string };
type Race = { collected: Awaited<Collection>; answers: { fixture: Fixture; volumeId: string; target: string; answer: Answer }[] };

/**
 * One race: closures nothing roots are put in the store with filler, a collection of
 * everything unrooted starts, and the closures are published while it runs.
 */
async function race(round: number, storeUri: string, storeRoot: string, dir: string, node: TestPlugin, collect: (typeof COLLECTORS)[string]): Promise<Race> {
  const fixtures: Fixture[] = [];
  for (let i = 0; i < CLOSURES; i++) fixtures.push(await buildFixture(uniqueSalt()));
  await copyToChrootStore(storeRoot, fixtures.map((fixture) => fixture.root));
  await addFiller(join(dir, `filler-${round}`), storeUri);

  const socket = join(storeRoot, 'nix/var/nix/gc-socket/socket');
  await rm(socket, { force: true });
  // Collect everything unrooted, as a node whose store is over its watermarks would.
  const gc = collect(storeUri, dir, node);
  // Nix opens its socket for new roots once it holds the GC lock.
  await until(() => access(socket).then(() => true, () => false), 30_000);
  await new Promise((resolve) => setTimeout(resolve, 150));

  const answers = await Promise.all(
    fixtures.map(async (fixture, index) => {
      await new Promise((resolve) => setTimeout(resolve, index * 80));
      const volumeId = `vol-${round}-${index}`;
      const target = join(node.dir, volumeId);
      const answer: Answer = await node.client.call('node', 'NodePublishVolume', publishRequest(volumeId, target, { paths: fixture.root })).then(
        () => ({ ok: true as const }),
        (error: { code: number; details: string }) => ({ ok: false as const, code: error.code, details: error.details }),
      );
      return { fixture, volumeId, target, answer };
    }),
  );
  return { collected: await gc, answers };
}

// Which closure a collection reaches first is up to Nix's order of deletion and the
// machine's speed: a round where every publish lost shows nothing about the ones that
// win, so the race is run again (new closures, new filler), a bounded number of times.
const ROUNDS = 4;

for (const [collector, collect] of Object.entries(COLLECTORS)) {
  // One at a time: three collections of 10,000 paths at once on two cores stretch every publish past its closure's deletion.
  test.serial(`publishes during a store garbage collection by ${collector}: every OK volume has its whole closure, the others fail retryably`, async (t) => {
    const dir = await tempDir(t, 'nixmount-gc-race-');
    const storeRoot = join(dir, 'root');
    const storeUri = `local?root=${storeRoot}`;
    // Serve's own collector by watermarks that take everything unrooted (high 1%, low 0%), once the test's store is filled.
    const storeGc = collector.startsWith('serve') ? { highPercent: 1, lowPercent: 0, intervalMs: 3_600_000, timeoutMs: 120_000 } : undefined;
    const node = await startTestPlugin(t, { nix: { storeUri }, storeGc });
    await node.plugin.services.storeGc.check('periodic'); // the check at start, over before the store fills

    const won: Race['answers'] = [];
    for (let round = 1; round <= ROUNDS && won.length === 0; round++) {
      const { collected, answers } = await race(round, storeUri, storeRoot, dir, node, collect);
      t.is(collected.exitCode, 0, collected.stderr);
      t.regex(collected.stdout, /store paths?(\(s\))? deleted/);
      for (const entry of answers) {
        const { fixture, target, answer } = entry;
        if (answer.ok) {
          won.push(entry);
          t.deepEqual(await invalid(storeUri, fixture.closure), [], `${target}: answered OK, so its closure must still be in the store`);
          t.deepEqual(await storeOf(target), fixture.closure);
          const data = fixture.closure.find((path) => path.includes('fixture-data'))!;
          t.true((await readFile(join(target, 'store', data.slice('/nix/store/'.length), 'share/greeting'), 'utf8')).startsWith('greetings from the data path'));
        } else {
          t.true(answer.code === status.UNAVAILABLE || answer.code === status.FAILED_PRECONDITION, `${target}: ${answer.code} ${answer.details}`);
          t.regex(answer.details, /\/nix\/store\//);
          t.log(`${target}: ${answer.code} ${answer.details.split('\n')[0]}`);
        }
      }
      t.log(`round ${round}: ${answers.filter(({ answer }) => answer.ok).length} of ${CLOSURES} publishes answered OK during the collection; GC: ${collected.stdout.trim()}`);
    }
    t.true(won.length > 0, `no publish won the race in ${ROUNDS} rounds, so the test shows nothing`);
    // Every volume answered OK survives a restart (its closure is still there to check and root again).
    const restarted = await node.restart();
    for (const { fixture, volumeId, target } of won) {
      await restarted.client.call('node', 'NodePublishVolume', publishRequest(volumeId, target, { paths: fixture.root }));
    }
    // Serve's collector checks again at its start and leaves a collection it began to finish after it stops: awaited, so the store can go.
    await restarted.plugin.services.storeGc.check('command');
  });
}
