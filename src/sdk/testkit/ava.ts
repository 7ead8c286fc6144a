import type { AdapterModule } from '../adapter-module.js';
import { CONTRACT_CHECKS, contractChecks } from './contract.js';
import type { CheckResult, KitOptions, ReplayOptions } from './kit-types.js';
import { runReplay } from './replay-run.js';

/** The part of ava's `test` the wrapper uses (nixmount does not depend on ava at run time). */
export interface AvaTest {
  (title: string, implementation: (t: { fail(message?: string): void; pass(): void; log(...values: unknown[]): void }) => Promise<void> | void): void;
}

/** What registerAdapterKit takes beyond the module: the contract's options, a title, and the replay's. */
export interface AdapterKitOptions extends KitOptions {
  /** The first part of every test's title (default: the specifier, or the module's name). */
  readonly title?: string;
  /** Registers the end-to-end replay too, with these options (the module must be a specifier). */
  readonly replay?: Omit<ReplayOptions, keyof KitOptions>;
}

/**
 * Registers the kit with ava, one test per contract check (`<title> › <check>`) and, when
 * `replay` is given, one for the end-to-end replay: `registerAdapterKit(test, './dist/adapter.js', { replay: { closure } })`.
 * The module is a specifier (as `serve --adapter-module` takes it) or, for the contract
 * checks only, the module object.
 */
export function registerAdapterKit(test: AvaTest, module: AdapterModule | string, options: AdapterKitOptions = {}): void {
  const title = options.title ?? (typeof module === 'string' ? module : module.name);
  let results: Promise<CheckResult[]> | undefined;
  for (const check of CONTRACT_CHECKS) {
    test(`${title} › ${check}`, async (t) => {
      results ??= contractChecks(module, options);
      const problems = (await results).find((result) => result.name === check)?.problems ?? [];
      if (problems.length > 0) t.fail(problems.join('\n'));
      else t.pass();
    });
  }
  const replay = options.replay;
  if (replay !== undefined) {
    if (typeof module !== 'string') throw new Error('registerAdapterKit: the replay needs the module as a specifier (a path or package name serve can load)');
    test(`${title} › end-to-end replay through nixmount serve`, async (t) => {
      const report = await runReplay(module, { ...replay, ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}) });
      t.log(report.calls.join('\n'));
      t.pass();
    });
  }
}
