import { InvalidArgumentError } from './errors.js';
import { parseFlakeRef } from './flake-ref.js';
import { LIMITS } from './limits.js';
import { quote, utf8Length } from './quote.js';
import { parseStorePathList } from './store-path.js';
import { emptySpec, type VolumeSpec } from './volume-spec.js';

/**
 * Keys a user may write in a volume context (besides a system key such as x86_64-linux).
 * Adapters strip their orchestrator's own keys first and hand these on unchanged.
 */
export const USER_KEYS = ['paths', 'expression', 'flakeRef'] as const;

// A Nix system double such as x86_64-linux or aarch64-darwin.
const SYSTEM_KEY = /^[a-z0-9_]+-(linux|darwin|freebsd|openbsd|netbsd|none|cygwin|windows)$/;

export function isSystemKey(key: string): boolean {
  return SYSTEM_KEY.test(key);
}

/**
 * Refuses a volume context over the limits (each key ≤ 1 KiB, all keys and values
 * ≤ 64 KiB) with INVALID_ARGUMENT naming the limit. Checked on the whole context as the
 * orchestrator sent it, before any key is read: serve does so on every publish and stage
 * before an adapter sees the context, and `parseUserContext` again on the user keys, so
 * an adapter need not call it; it is there for an adapter's own tools (checking a
 * context before it is submitted), with `field` naming where the context came from.
 */
export function assertContextBounds(context: Readonly<Record<string, string>>, field = 'volume_context'): void {
  let total = 0;
  for (const [key, value] of Object.entries(context)) {
    const keyBytes = utf8Length(key);
    if (keyBytes > LIMITS.contextKeyBytes) {
      throw new InvalidArgumentError(`${field}: the key ${quote(key)} is longer than the limit of ${LIMITS.contextKeyBytes} bytes per key`);
    }
    total += keyBytes + utf8Length(value);
    if (total > LIMITS.contextBytes) {
      throw new InvalidArgumentError(
        `${field}: keys and values together are longer than the limit of ${LIMITS.contextBytes} bytes (reached at the key ${quote(key)})`,
      );
    }
  }
}

/** Values handed to Nix as command-line arguments, which cannot carry a NUL byte. */
function noNul(value: string, key: string): string {
  if (value.includes('\0')) throw new InvalidArgumentError(`${key}: ${quote(value)} contains a NUL byte`);
  return value;
}

/**
 * Reads the user keys of a volume context into a VolumeSpec. Unknown keys are an
 * InvalidArgumentError naming the key, so typos never silently mount nothing. A context
 * naming no closure is refused unless `closureElsewhere` (the adapter completes the spec
 * from what the orchestrator knows, and checks it then).
 */
export function parseUserContext(context: Readonly<Record<string, string>>, options: { closureElsewhere?: boolean } = {}): VolumeSpec {
  assertContextBounds(context);
  const spec = emptySpec();
  for (const [key, value] of Object.entries(context)) {
    if (key === 'paths') {
      spec.storePaths = parseStorePathList(value, key);
    } else if (isSystemKey(key)) {
      spec.systemPaths[key] = parseStorePathList(value, key);
    } else if (key === 'expression') {
      if (value.trim() === '') throw new InvalidArgumentError('expression: empty');
      spec.expression = noNul(value, key);
    } else if (key === 'flakeRef') {
      if (value.trim() === '') throw new InvalidArgumentError('flakeRef: empty');
      spec.flakeRef = noNul(value.trim(), key);
      // Refused here, whatever the policy: a ref with dot segments names one place and Nix may fetch another.
      parseFlakeRef(spec.flakeRef);
    } else {
      throw new InvalidArgumentError(
        `unknown volume context key ${quote(key)} (known: ${USER_KEYS.join(', ')}, or a system such as x86_64-linux)`,
      );
    }
  }
  const count = spec.storePaths.length + Object.values(spec.systemPaths).reduce((sum, paths) => sum + paths.length, 0);
  if (count > LIMITS.storePaths) {
    throw new InvalidArgumentError(`volume_context names ${count} store paths; the limit is ${LIMITS.storePaths} per volume`);
  }
  const named =
    spec.storePaths.length + Object.keys(spec.systemPaths).length + (spec.expression ? 1 : 0) + (spec.flakeRef ? 1 : 0);
  if (named === 0 && !options.closureElsewhere) {
    throw new InvalidArgumentError(
      `the volume context names no closure: set one of ${USER_KEYS.join(', ')} or a system key such as x86_64-linux`,
    );
  }
  return spec;
}
