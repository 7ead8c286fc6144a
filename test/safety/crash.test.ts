// Crash injection: the real plugin process is SIGKILLed at moments spread over publish (RO/RW,
// cold/warm), unpublish, stage, unstage (Nomad), view build, view removal and `nixmount gc`;
// restarted at once on the same state dir and socket; the orchestrator's retry (the same request)
// must succeed; then everything is unpublished/unstaged and the node must be clean.
//
// Moments come from three sources, none of them a branch in production code:
// - command moments: PATH wrappers of mount/umount/cp/nix-store/nix kill the plugin before or
//   right after the Nth invocation, for every invocation a first (census) run of the operation made;
// - event moments: inotify on the state dir and the GC root dir kills it when a view, record,
//   overlay or root appears or goes;
// - time moments: a fraction of the census run's duration (the pure file-system steps).
// NIXMOUNT_CRASH_MOMENTS=N lifts the per-scenario caps and adds about N time moments.
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { armKill, describeMoment, momentBudget, type EventMoment, type Moment } from '../helpers/crash-moments.js';
import { CLI } from '../helpers/serve-process.js';
import { nixEnv } from '../helpers/nix.js';
import { gcRootDirFor } from '../helpers/node-clean.js';
import { answer, codeName, publishRequest, safetyNode, type Answer, type SafetyNode } from './safety-node.js';

interface Ctx {
  node: SafetyNode;
  /** Targets and staging paths that stay live through the scenario (warm views). */
  keepers: string[];
  rootDir: string;
  /** Nomad's stage_publish_base_dir. */
  base: string;
  gcChild?: ReturnType<typeof execa>;
}

interface Scenario {
  name: string;
  nomad?: boolean;
  viewIdle?: string;
  /** Moments at most without NIXMOUNT_CRASH_MOMENTS. */
  cap: number;
  /** Which census invocations become command moments. */
  commands: RegExp;
  setupOnce?(ctx: Ctx): Promise<void>;
  prepare?(ctx: Ctx): Promise<void>;
  /** The attacked call; the orchestrator's retry is the very same call. */
  op(ctx: Ctx): Promise<Answer>;
  live(ctx: Ctx): string[];
  undo(ctx: Ctx): Promise<void>;
  events(ctx: Ctx): EventMoment[];
  /** Not the serve process (gc): how the victim dies and comes back. */
  cli?: boolean;
}

const USAGE = 'ro-file-system-multi-node-reader-only';
const NOMAD_CAPABILITY = { mount: { fs_type: '', mount_flags: [] }, access_mode: { mode: 'MULTI_NODE_READER_ONLY' } };

const localTarget = (ctx: Ctx, name: string) => join(ctx.node.dir, name, 'mount');
const staging = (ctx: Ctx) => join(ctx.base, 'staging', 'default', 'vol1', USAGE);
const allocTarget = (ctx: Ctx, alloc: string) => join(ctx.base, 'per-alloc', alloc, 'vol1', USAGE);
const paths = (ctx: Ctx) => ({ paths: ctx.node.fixture.root });

async function must(t: ExecutionContext, what: string, result: Promise<Answer>): Promise<void> {
  const done = await result;
  t.is(codeName(done.code), 'OK', `${what}: ${done.details}`);
}

function publish(ctx: Ctx, id: string, target: string, readonly = true): Promise<Answer> {
  return mkdir(dirname(target), { recursive: true }).then(() => answer(ctx.node.serve, 'NodePublishVolume', publishRequest(id, target, paths(ctx), { readonly })));
}

function unpublish(ctx: Ctx, id: string, target: string): Promise<Answer> {
  return answer(ctx.node.serve, 'NodeUnpublishVolume', { volume_id: id, target_path: target });
}

async function stage(ctx: Ctx): Promise<Answer> {
  await mkdir(staging(ctx), { recursive: true });
  return answer(ctx.node.serve, 'NodeStageVolume', { volume_id: 'vol1', staging_target_path: staging(ctx), volume_capability: NOMAD_CAPABILITY, volume_context: paths(ctx), publish_context: {} });
}

function unstage(ctx: Ctx): Promise<Answer> {
  return answer(ctx.node.serve, 'NodeUnstageVolume', { volume_id: 'vol1', staging_target_path: staging(ctx) });
}

async function nomadPublish(ctx: Ctx, alloc: string): Promise<Answer> {
  await mkdir(allocTarget(ctx, alloc), { recursive: true });
  return answer(ctx.node.serve, 'NodePublishVolume', {
    volume_id: 'vol1',
    staging_target_path: staging(ctx),
    target_path: allocTarget(ctx, alloc),
    volume_capability: NOMAD_CAPABILITY,
    readonly: true,
    volume_context: paths(ctx),
    publish_context: {},
  });
}

const views = (ctx: Ctx, label: string, match: RegExp): EventMoment => ({ kind: 'event', label: `views/ ${label}`, dir: join(ctx.node.stateDir, 'views'), match });
const records = (ctx: Ctx, kind: 'volumes' | 'stages', label: string, match: RegExp): EventMoment => ({ kind: 'event', label: `${kind}/ ${label}`, dir: join(ctx.node.stateDir, kind), match });
const rootDirEvent = (ctx: Ctx): EventMoment => ({ kind: 'event', label: 'GC root dir created/removed', dir: dirname(ctx.rootDir), match: new RegExp(`^${basename(ctx.rootDir)}$`) });
// Fires only if the root dir exists when armed (today's plugin removes it once empty).
const rootEvent = (ctx: Ctx): EventMoment => ({ kind: 'event', label: 'GC root link made or removed', dir: ctx.rootDir, match: /^[0-9a-f]+-\d+$/ });
const overlays = (ctx: Ctx): EventMoment => ({ kind: 'event', label: 'overlays/ entry', dir: join(ctx.node.stateDir, 'overlays'), match: /./ });

const BUILDING = /^\.building-/;
const VIEW = /^[0-9a-f]{32}$/;
const DELETING = /^\.deleting-/;

async function keeper(ctx: Ctx, t: ExecutionContext): Promise<void> {
  const target = localTarget(ctx, 'keeper');
  await must(t, 'keeper publish', publish(ctx, 'keeper', target));
  ctx.keepers.push(target);
}

function scenarios(t: ExecutionContext): Scenario[] {
  return [
    {
      name: 'local publish RO cold (view build)',
      cap: 12,
      commands: /./,
      prepare: async () => undefined,
      op: (ctx) => publish(ctx, 'v1', localTarget(ctx, 'pod')),
      live: (ctx) => [localTarget(ctx, 'pod')],
      undo: (ctx) => must(t, 'unpublish', unpublish(ctx, 'v1', localTarget(ctx, 'pod'))),
      events: (ctx) => [
        views(ctx, '.building-* appears', BUILDING),
        rootEvent(ctx),
        views(ctx, 'view renamed into place', VIEW),
        rootDirEvent(ctx),
        records(ctx, 'volumes', 'record write begins (*.tmp)', /\.tmp$/),
        records(ctx, 'volumes', 'record in place', /\.json$/),
      ],
    },
    {
      // Read-only volumes are bind farms (--view-mode auto): every mount(2) the helper makes for
      // the farm (a bind and its read-only remount per store path), the kept tree and the volume's
      // tree is a moment; each restart must unmount the half-made farm before removing it.
      name: 'local publish RO cold, bind farm (killed between its binds)',
      cap: 8,
      commands: /^mount\(2\)$/,
      op: (ctx) => publish(ctx, 'v1f', localTarget(ctx, 'pod-farm')),
      live: (ctx) => [localTarget(ctx, 'pod-farm')],
      undo: (ctx) => must(t, 'unpublish', unpublish(ctx, 'v1f', localTarget(ctx, 'pod-farm'))),
      events: () => [],
    },
    {
      name: 'local publish RO warm',
      cap: 5,
      commands: /./,
      setupOnce: (ctx) => keeper(ctx, t),
      op: (ctx) => publish(ctx, 'v2', localTarget(ctx, 'pod-warm')),
      live: (ctx) => [localTarget(ctx, 'pod-warm')],
      undo: (ctx) => must(t, 'unpublish', unpublish(ctx, 'v2', localTarget(ctx, 'pod-warm'))),
      events: (ctx) => [records(ctx, 'volumes', 'record write begins (*.tmp)', /\.tmp$/), records(ctx, 'volumes', 'record in place', /\.json$/)],
    },
    {
      name: 'local publish RW cold',
      cap: 5,
      commands: /^(cp|mount|mount\(2\))$/,
      op: (ctx) => publish(ctx, 'v3', localTarget(ctx, 'pod-rw'), false),
      live: (ctx) => [localTarget(ctx, 'pod-rw')],
      undo: (ctx) => must(t, 'unpublish', unpublish(ctx, 'v3', localTarget(ctx, 'pod-rw'))),
      events: (ctx) => [overlays(ctx), rootEvent(ctx), views(ctx, 'view renamed into place', VIEW), records(ctx, 'volumes', 'record in place', /\.json$/)],
    },
    {
      name: 'local publish RW warm',
      cap: 3,
      commands: /^mount(\(2\))?$/,
      setupOnce: (ctx) => keeper(ctx, t),
      op: (ctx) => publish(ctx, 'v4', localTarget(ctx, 'pod-rw-warm'), false),
      live: (ctx) => [localTarget(ctx, 'pod-rw-warm')],
      undo: (ctx) => must(t, 'unpublish', unpublish(ctx, 'v4', localTarget(ctx, 'pod-rw-warm'))),
      events: (ctx) => [overlays(ctx)],
    },
    {
      name: 'local unpublish (view removal)',
      cap: 5,
      commands: /^(umount|umount2\(2\))$/,
      prepare: (ctx) => must(t, 'publish', publish(ctx, 'v5', localTarget(ctx, 'pod-un'))),
      op: (ctx) => unpublish(ctx, 'v5', localTarget(ctx, 'pod-un')),
      live: () => [],
      undo: (ctx) => must(t, 'unpublish again', unpublish(ctx, 'v5', localTarget(ctx, 'pod-un'))),
      events: (ctx) => [records(ctx, 'volumes', 'record deleted', /\.json$/), views(ctx, '.deleting-* appears', DELETING), rootEvent(ctx), rootDirEvent(ctx)],
    },
    {
      name: 'local unpublish RW (overlay and view removal)',
      cap: 4,
      commands: /^(umount|umount2\(2\))$/,
      prepare: (ctx) => must(t, 'publish', publish(ctx, 'v7', localTarget(ctx, 'pod-un-rw'), false)),
      op: (ctx) => unpublish(ctx, 'v7', localTarget(ctx, 'pod-un-rw')),
      live: () => [],
      undo: (ctx) => must(t, 'unpublish again', unpublish(ctx, 'v7', localTarget(ctx, 'pod-un-rw'))),
      events: (ctx) => [overlays(ctx), records(ctx, 'volumes', 'record deleted', /\.json$/), views(ctx, '.deleting-* appears', DELETING)],
    },
    {
      name: 'nomad stage cold (view build)',
      nomad: true,
      cap: 5,
      commands: /^(cp|mount|mount\(2\))$/,
      op: (ctx) => stage(ctx),
      live: (ctx) => [staging(ctx)],
      undo: (ctx) => must(t, 'unstage', unstage(ctx)),
      events: (ctx) => [records(ctx, 'stages', 'stage record in place', /\.json$/), rootEvent(ctx), views(ctx, '.building-* appears', BUILDING), views(ctx, 'view renamed into place', VIEW)],
    },
    {
      name: 'nomad publish from a stage',
      nomad: true,
      cap: 3,
      commands: /^mount(\(2\))?$/,
      setupOnce: async (ctx) => {
        await must(t, 'stage', stage(ctx));
        ctx.keepers.push(staging(ctx));
      },
      op: (ctx) => nomadPublish(ctx, 'alloc-1'),
      live: (ctx) => [allocTarget(ctx, 'alloc-1')],
      undo: (ctx) => must(t, 'unpublish', unpublish(ctx, 'vol1', allocTarget(ctx, 'alloc-1'))),
      events: (ctx) => [records(ctx, 'volumes', 'record in place', /\.json$/)],
    },
    {
      name: 'nomad unpublish',
      nomad: true,
      cap: 3,
      commands: /^(umount|umount2\(2\))$/,
      setupOnce: async (ctx) => {
        await must(t, 'stage', stage(ctx));
        ctx.keepers.push(staging(ctx));
      },
      prepare: (ctx) => must(t, 'publish', nomadPublish(ctx, 'alloc-2')),
      op: (ctx) => unpublish(ctx, 'vol1', allocTarget(ctx, 'alloc-2')),
      live: () => [],
      undo: (ctx) => must(t, 'unpublish again', unpublish(ctx, 'vol1', allocTarget(ctx, 'alloc-2'))),
      events: (ctx) => [records(ctx, 'volumes', 'record deleted', /\.json$/)],
    },
    {
      name: 'nomad unstage (view removal)',
      nomad: true,
      cap: 4,
      commands: /^(umount|umount2\(2\))$/,
      prepare: (ctx) => must(t, 'stage', stage(ctx)),
      op: (ctx) => unstage(ctx),
      live: () => [],
      undo: (ctx) => must(t, 'unstage again', unstage(ctx)),
      events: (ctx) => [records(ctx, 'stages', 'stage record deleted', /\.json$/), views(ctx, '.deleting-* appears', DELETING), rootEvent(ctx)],
    },
    {
      name: 'nixmount gc (view removal by the CLI)',
      cli: true,
      viewIdle: '1h',
      cap: 4,
      commands: /^$/,
      prepare: async (ctx) => {
        if (!ctx.node.serve.running) t.true((await ctx.node.serve.launch()).ready, 'serve starts');
        await must(t, 'publish', publish(ctx, 'v6', localTarget(ctx, 'pod-gc')));
        await must(t, 'unpublish (the view stays, idle)', unpublish(ctx, 'v6', localTarget(ctx, 'pod-gc')));
        await ctx.node.serve.stop();
      },
      op: async (ctx) => {
        const [command, args] = ctx.node.ns.enter('node', [CLI, 'gc', '--state-dir', ctx.node.stateDir, '--substituters', '']);
        const started = Date.now();
        ctx.gcChild = execa(command, args, { env: nixEnv, reject: false, timeout: 60_000 });
        const result = await ctx.gcChild;
        return { code: result.exitCode === 0 ? 0 : 13, details: `exit ${result.exitCode} ${result.signal ?? ''} ${String(result.stderr)}`, ms: Date.now() - started };
      },
      live: () => [],
      undo: async (ctx) => {
        if (!ctx.node.serve.running) t.true((await ctx.node.serve.launch()).ready, 'serve starts after gc');
      },
      events: (ctx) => [views(ctx, '.deleting-* appears', DELETING), rootEvent(ctx)],
    },
  ];
}

const hitsByScenario = new Map<string, number>();

async function runScenario(t: ExecutionContext, scenario: Scenario, index: number): Promise<void> {
  t.timeout(Math.max(5 * 60_000, Number(process.env.NIXMOUNT_CRASH_MOMENTS ?? 0) * 10_000)); // ~3 s per moment, 10 s on a loaded machine
  const node = await safetyNode(t, { wrappers: true, viewIdle: scenario.viewIdle ?? '0', noStart: true });
  const ctx: Ctx = { node, keepers: [], rootDir: await gcRootDirFor(node.stateDir), base: join(node.dir, 'nomad') };
  if (scenario.nomad) node.serve.options.args = ['--orchestrator', 'nomad', '--stage-publish-base-dir', ctx.base];
  t.true((await node.serve.launch()).ready, 'first start');
  const wrappers = node.wrappers!;
  const budget = momentBudget(NAMES.length);
  await scenario.setupOnce?.(ctx);

  // Census: the operation once, unharmed, to learn its commands and its duration.
  await scenario.prepare?.(ctx);
  await wrappers.arm();
  const started = Date.now();
  await must(t, `${scenario.name}: census run`, scenario.op(ctx));
  const measured = Date.now() - started;
  await wrappers.disarm();
  const census = (await wrappers.calls()).filter((call) => scenario.commands.test(call.command));
  if (!scenario.cli) await node.clean(t, { liveTargets: [...ctx.keepers, ...scenario.live(ctx)] });
  await scenario.undo(ctx);
  await node.clean(t, { liveTargets: ctx.keepers });

  // Interleaved, so a cap keeps every kind of moment: command, event, command, event, …, then time.
  const commands: Moment[] = census.flatMap((call) => (['before', 'after'] as const).map((when) => ({ kind: 'command' as const, command: call.command, n: call.n, when })));
  const events: Moment[] = scenario.events(ctx);
  const moments: Moment[] = [];
  for (let i = 0; i < Math.max(commands.length, events.length); i++) moments.push(...[commands[i], events[i]].filter((m): m is Moment => m !== undefined));
  moments.splice(Math.min(moments.length, scenario.cap - 1), 0, { kind: 'time', fraction: 0.5 });
  const chosen = [...(budget.unbounded ? moments : moments.slice(0, scenario.cap)), ...budget.extraFractions(index).map((fraction) => ({ kind: 'time' as const, fraction }))];

  let hits = 0;
  const missed: string[] = [];
  for (const moment of chosen) {
    const label = `${scenario.name}, ${describeMoment(moment)}`;
    try {
      if (await runMoment(t, scenario, ctx, moment, label, measured)) hits++;
      else missed.push(describeMoment(moment));
    } catch (error) {
      t.log(`failed at moment: ${label}`);
      throw error;
    }
  }
  hitsByScenario.set(scenario.name, hits);
  t.log(`${scenario.name}: ${hits} of ${chosen.length} moments hit${missed.length > 0 ? `; missed: ${missed.join(', ')}` : ''} (operation ${measured} ms)`);
}

/** One kill, restart and retry; true when the moment was hit. */
async function runMoment(t: ExecutionContext, scenario: Scenario, ctx: Ctx, moment: Moment, label: string, measured: number): Promise<boolean> {
  const { node } = ctx;
  const wrappers = node.wrappers!;
  await scenario.prepare?.(ctx);
  let armed: ReturnType<typeof armKill> | undefined;
  if (moment.kind === 'command') await wrappers.arm(moment);
  else {
    await wrappers.arm();
    armed = armKill(moment, () => (scenario.cli ? ctx.gcChild?.pid : node.serve.pid), measured);
  }
  const result = await scenario.op(ctx);
  armed?.disarm();
  const fired = moment.kind === 'command' ? await wrappers.fired() : armed!.fired();
  await wrappers.disarm();
  if (!fired) {
    t.is(codeName(result.code), 'OK', `${label}: not hit, so the operation itself succeeded: ${result.details}`);
  } else {
    if (!scenario.cli) {
      t.true(await node.serve.waitExit(10_000), `${label}: the plugin died`);
      const restart = await node.serve.launch();
      t.true(restart.ready, `${label}: restarted at once (exit ${restart.exitCode}, ${restart.signal}): ${restart.stderr.slice(-1500)}`);
    }
    const retry = await scenario.op(ctx);
    t.is(codeName(retry.code), 'OK', `${label}: the orchestrator's retry succeeds: ${retry.details}`);
  }
  if (scenario.cli) await scenario.undo(ctx); // gc: serve back up before checking
  await node.clean(t, { liveTargets: [...ctx.keepers, ...scenario.live(ctx)], label: `${label}, after the retry` });
  if (!scenario.cli) await scenario.undo(ctx);
  await node.clean(t, { liveTargets: ctx.keepers, label: `${label}, after unpublishing everything` });
  return fired;
}

// Only the names here; each test builds its scenarios with its own ExecutionContext.
const NAMES = scenarios(undefined as unknown as ExecutionContext).map((scenario) => scenario.name);
NAMES.forEach((name, index) => {
  test.serial(`crash: ${name}: killed at every moment, restarted at once, the retry succeeds and the node is clean`, async (t) => {
    const scenario = scenarios(t).find((candidate) => candidate.name === name)!;
    await runScenario(t, scenario, index);
  });
});

test.serial('crash: at least 30 moments were hit across publish, unpublish, stage, unstage, view build, view removal and gc', (t) => {
  const total = [...hitsByScenario.values()].reduce((sum, hits) => sum + hits, 0);
  t.log(`${total} kills over ${hitsByScenario.size} scenarios: ${[...hitsByScenario].map(([name, hits]) => `${name} ${hits}`).join('; ')}`);
  t.is(hitsByScenario.size, NAMES.length, 'every scenario ran');
  t.true(total >= 30, `${total} moments hit`);
});
