import { InvalidArgumentError } from '../../core/errors.js';
import { LIMITS } from '../../core/limits.js';
import { quote } from '../../core/quote.js';
import { assertStorePath, STORE_DIR } from '../../core/store-path.js';
import type { VolumeSpec } from '../../core/volume-spec.js';

// A store path as it appears inside a longer string (`/nix/store/<hash>-<name>/bin/x`,
// `PATH=/nix/store/…/bin:/nix/store/…/bin`): the hash in Nix's base-32, then name characters.
const STORE_PATH_IN_TEXT = /\/nix\/store\/[0-9abcdfghijklmnpqrsvwxyz]{32}-[A-Za-z0-9+\-._?=]+/g;

interface Container {
  command?: unknown;
  args?: unknown;
  env?: unknown;
}

/** What of a core/v1 Pod is read: the command, args and literal env values of its containers. */
export interface PodSpecView {
  spec?: { containers?: unknown; initContainers?: unknown };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function envValues(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map((entry) => (entry as { value?: unknown })?.value).filter((item): item is string => typeof item === 'string');
}

/**
 * Every store path the pod's containers (and init containers) name in their command,
 * args and env values, sorted and without repeats. A match that is not a well-formed
 * store path (a name over Nix's 211 characters, say) is not one and is left out; more
 * than the per-volume limit is INVALID_ARGUMENT, as in a volume context.
 */
export function storePathsInPod(pod: PodSpecView): string[] {
  const found = new Set<string>();
  const containers = [pod.spec?.initContainers, pod.spec?.containers].flatMap((list) => (Array.isArray(list) ? (list as Container[]) : []));
  for (const container of containers) {
    for (const text of [...strings(container?.command), ...strings(container?.args), ...envValues(container?.env)]) {
      for (const match of text.matchAll(STORE_PATH_IN_TEXT)) {
        try {
          found.add(assertStorePath(match[0], 'pod'));
        } catch {
          // not a store path after all
        }
      }
    }
  }
  if (found.size > LIMITS.storePaths) {
    throw new InvalidArgumentError(`the pod's containers name ${found.size} store paths; the limit is ${LIMITS.storePaths} per volume`);
  }
  return [...found].sort();
}

/** The volume attribute that adds the pod's own store paths to the closure. */
export const POD_STORE_PATHS_KEY = 'podStorePaths';

/** Takes `podStorePaths` ("true" or "false") out of the user's keys. */
export function takePodStorePaths(user: Readonly<Record<string, string>>): { rest: Record<string, string>; fromPod: boolean } {
  const { [POD_STORE_PATHS_KEY]: value, ...rest } = user;
  if (value === undefined || value === 'false') return { rest, fromPod: false };
  if (value === 'true') return { rest, fromPod: true };
  throw new InvalidArgumentError(`${POD_STORE_PATHS_KEY}: ${quote(value)} is neither "true" nor "false"`);
}

/** The spec with the pod's store paths added; a volume left naming no closure at all is refused. */
export function withPodStorePaths(spec: VolumeSpec, podPaths: readonly string[], pod: string): VolumeSpec {
  const storePaths = [...new Set([...spec.storePaths, ...podPaths])].sort();
  if (storePaths.length > LIMITS.storePaths) {
    throw new InvalidArgumentError(`the volume and pod ${quote(pod)} name ${storePaths.length} store paths together; the limit is ${LIMITS.storePaths} per volume`);
  }
  const named = storePaths.length + Object.keys(spec.systemPaths).length + (spec.expression ? 1 : 0) + (spec.flakeRef ? 1 : 0);
  if (named === 0) {
    throw new InvalidArgumentError(
      `${POD_STORE_PATHS_KEY}: pod ${quote(pod)} names no ${STORE_DIR}/ path in its containers' command, args or env, and the volume names no other closure`,
    );
  }
  return { ...spec, storePaths };
}
