import { parseUserContext } from '../core/volume-context.js';
import type { VolumeSpec } from './adapter-types.js';

export interface SplitContext {
  /** The keys a person wrote, exactly as sent: given to parseUserContext, which refuses unknown ones by name. */
  user: Record<string, string>;
  /** The keys the orchestrator added (identity of the workload, flags of its own). */
  orchestrator: Record<string, string>;
}

/**
 * Separates the orchestrator's keys (those `isOrchestratorKey` recognises) from the
 * user's, which go unchanged to `parseUserContext`. `isOrchestratorKey` should recognise
 * exactly the keys the adapter knows (`new Set([...]).has`), not a whole prefix: an
 * unknown key, even inside the adapter's own prefix (`beehive.io/wrokload`), then falls to
 * the user half and is refused by name with INVALID_ARGUMENT, like any other unknown key,
 * rather than silently ignored. Recognise a whole prefix only where the orchestrator
 * itself adds keys over its releases, in a prefix reserved to it (kubelet's
 * `csi.storage.k8s.io/`), and declare it in `OrchestratorReplay.openKeyPrefixes` so the
 * test kit checks it that way (docs/adapters.md, "Volume context keys").
 */
export function splitContext(context: Readonly<Record<string, string>>, isOrchestratorKey: (key: string) => boolean): SplitContext {
  const user: Record<string, string> = {};
  const orchestrator: Record<string, string> = {};
  for (const [key, value] of Object.entries(context)) {
    if (isOrchestratorKey(key)) orchestrator[key] = value;
    else user[key] = value;
  }
  return { user, orchestrator };
}

/**
 * The usual whole job: the user keys of `context` (after removing the orchestrator's) read
 * into a spec, exactly as `parseUserContext` reads them. The spec an adapter returns must be
 * that one: the user keys reach the core unchanged (the kit's "user keys" check).
 */
export function parseUserKeys(context: Readonly<Record<string, string>>, isOrchestratorKey: (key: string) => boolean = () => false): VolumeSpec {
  return parseUserContext(splitContext(context, isOrchestratorKey).user);
}
