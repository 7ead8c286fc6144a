// Compiled with the tests, run by nothing: the build fails unless the SDK's published
// adapter types (src/sdk/adapter-types.ts) and the core's are the same types, both ways,
// so the SDK's declarations cannot drift from what the core calls.
import type * as core from '../../src/core/orchestrator-adapter.js';
import type * as coreSpec from '../../src/core/volume-spec.js';
import type * as sdk from '../../src/sdk/adapter-types.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Exact<A, B> = Same<A, B> extends true ? (Same<keyof A, keyof B> extends true ? true : false) : false;

export const sameTypes: [
  Exact<sdk.VolumeSpec, coreSpec.VolumeSpec>,
  Exact<sdk.NodeIdentity, core.NodeIdentity>,
  Exact<sdk.ParsedVolumeContext, core.ParsedVolumeContext>,
  Exact<sdk.OrchestratorAdapter, core.OrchestratorAdapter>,
] = [true, true, true, true];
