import { parseUserContext } from '../core/volume-context.js';
import type { VolumeSpec } from './adapter-types.js';

export interface SplitContext {
  /** The keys a person wrote: given to parseUserContext, which refuses unknown ones by name. */
  user: Record<string, string>;
  /** The keys the orchestrator added (identity of the workload, flags of its own). */
  orchestrator: Record<string, string>;
}

/**
 * Separates the orchestrator's keys (those `isOrchestratorKey` recognises, e.g. by a
 * prefix it reserves) from the user's. An orchestrator that adds keys over its versions
 * should recognise its whole prefix, so a new key is never refused as a user's typo.
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

/** The usual whole job: the user keys of `context` (after removing the orchestrator's) read into a spec. */
export function parseUserKeys(context: Readonly<Record<string, string>>, isOrchestratorKey: (key: string) => boolean = () => false): VolumeSpec {
  return parseUserContext(splitContext(context, isOrchestratorKey).user);
}
