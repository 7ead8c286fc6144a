/**
 * nixmount's adapter test kit, the package's `nixmount/sdk/testkit` export: plain async
 * functions any test runner can call. `contractChecks`/`checkContract` exercise an adapter
 * module alone (context parsing, paths, identity, staging); `runReplay` runs a real
 * `nixmount serve --adapter-module` and replays the module's orchestrator against it.
 * `startPlugin` gives an orchestrator harness of its own the same running plugin and
 * leftover checks; `buildKitClosure` builds a small closure for the replay from the
 * expression the package ships. Failures are KitFailure errors whose message lists each failed check and why.
 */
export { CONTRACT_CHECKS, checkContract, contractChecks } from './contract.js';
export type { ContractCheck } from './contract.js';
export { KitFailure } from './kit-types.js';
export type { CheckResult, KitOptions, ReplayOptions, ReplayReport } from './kit-types.js';
export { closureOf, closureProblems, runReplay } from './replay-run.js';
export { CallFailed, startPlugin } from './plugin-process.js';
export { buildKitClosure, KIT_CLOSURE_EXPRESSION } from './kit-closure.js';
export type { PluginOptions, PluginProcess } from './plugin-process.js';
