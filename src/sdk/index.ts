/**
 * nixmount's adapter SDK, the package's `nixmount/sdk` export: everything an adapter for
 * another orchestrator needs, and nothing else of nixmount. Semantic-versioned with the
 * package: what this file exports only changes incompatibly in a new major version
 * (docs/adapters.md, "Stability"). Internals are reachable only through it.
 */

// The interface an adapter implements and the types it answers with.
export type { NodeIdentity, OrchestratorAdapter, ParsedVolumeContext, VolumeSpec } from './adapter-types.js';

// The module an adapter package exports, and its options.
export { SDK_VERSION, defineAdapter } from './adapter-module.js';
export type { AdapterContext, AdapterModule, AdapterOptionSpec } from './adapter-module.js';
export type { AccessMode, IdentityCall, OrchestratorReplay, ReplayStep, ReplayVolume } from './replay.js';

// Reading a volume context: the user keys every orchestrator carries the same way.
export { assertContextBounds, isSystemKey, parseUserContext, USER_KEYS } from '../core/volume-context.js';
export { parseUserKeys, splitContext } from './context.js';
export type { SplitContext } from './context.js';

// Checking target and staging paths.
export {
  assertNoSymlinkBelow,
  canonicalPath,
  isAtOrBelow,
  isBelow,
  NAME_MAX_BYTES,
  PATH_MAX_BYTES,
  ProtectedDirs,
  realpathOfExisting,
} from '../adapters/common/paths.js';
export { quote } from '../core/quote.js';

// The errors to throw: nixmount answers each with its gRPC code.
export {
  FailedPreconditionError,
  InvalidArgumentError,
  PathThroughSymlinkError,
  isNixmountError,
  NixmountError,
  NotFoundError,
  PermissionDeniedError,
  UnavailableError,
} from '../core/errors.js';
export type { ErrorKind } from '../core/errors.js';
