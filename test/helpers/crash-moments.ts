import { watch, type FSWatcher } from 'node:fs';
import type { CommandMoment } from './crash-wrappers.js';

/** Kill when a directory entry matching `match` appears or disappears in `dir` (inotify). */
export interface EventMoment {
  kind: 'event';
  label: string;
  dir: string;
  match: RegExp;
}

/** Kill `fraction` of a measured operation's duration after it started (the pure file-system steps). */
export interface TimeMoment {
  kind: 'time';
  fraction: number;
}

export type Moment = ({ kind: 'command' } & CommandMoment) | EventMoment | TimeMoment;

export function describeMoment(moment: Moment): string {
  switch (moment.kind) {
    case 'command':
      return `${moment.when} ${moment.command} #${moment.n}`;
    case 'event':
      return `on ${moment.label}`;
    case 'time':
      return `at ${Math.round(moment.fraction * 100)}% of the operation`;
  }
}

/**
 * Arms a kill of `pid()` for an event or time moment; returns a disarm function and whether it
 * fired. Command moments are armed through the wrappers instead.
 */
export function armKill(moment: EventMoment | TimeMoment, pid: () => number | undefined, measuredMs: number): { fired: () => boolean; disarm: () => void } {
  return armAction(moment, measuredMs, () => {
    const target = pid();
    if (target === undefined) return false;
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already dead
    }
    return true;
  });
}

/**
 * Runs `action` once at an event or time moment (a kill, or a change a hostile workload makes,
 * done synchronously inside the inotify callback so it lands as close to the moment as it can).
 * `action` answers false when it could not act yet, and the moment stays armed.
 */
export function armAction(moment: EventMoment | TimeMoment, measuredMs: number, action: () => boolean): { fired: () => boolean; disarm: () => void } {
  let fired = false;
  const fire = () => {
    if (fired) return;
    fired = action();
  };
  if (moment.kind === 'time') {
    const timer = setTimeout(fire, Math.max(1, Math.round(measuredMs * moment.fraction)));
    return { fired: () => fired, disarm: () => clearTimeout(timer) };
  }
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(moment.dir, (_event, name) => {
      if (name !== null && moment.match.test(String(name))) fire();
    });
    watcher.on('error', () => undefined);
  } catch {
    // the directory does not exist (yet): this moment cannot fire
  }
  return { fired: () => fired, disarm: () => watcher?.close() };
}

/** Moments a knob asks for: NIXMOUNT_CRASH_MOMENTS=N spreads about N moments over the scenarios (time fractions fill up). */
export function momentBudget(scenarios: number): { extraFractions: (scenario: number) => number[]; unbounded: boolean } {
  const asked = Number(process.env.NIXMOUNT_CRASH_MOMENTS ?? 0);
  if (!asked) return { extraFractions: () => [], unbounded: false };
  const perScenario = Math.max(1, Math.ceil(asked / scenarios));
  return {
    unbounded: true,
    extraFractions: (scenario) => Array.from({ length: perScenario }, (_, i) => ((i + 1 + scenario * 0.37) % (perScenario + 1)) / (perScenario + 1)).map((f) => Math.min(0.97, Math.max(0.03, f))),
  };
}
