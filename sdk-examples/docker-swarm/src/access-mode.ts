import type { AccessMode } from 'nixmount/sdk';

/** `docker volume create --scope`. */
export type SwarmScope = 'single' | 'multi';
/** `docker volume create --sharing`. */
export type SwarmSharing = 'none' | 'readonly' | 'onewriter' | 'all';

/**
 * The CSI access mode Swarm sends for a volume's scope and sharing (swarmkit's conversion):
 * on one node every sharing but readonly is SINGLE_NODE_WRITER; on many, readonly,
 * onewriter and all are the three MULTI_NODE modes, and `none` has no mode at all (the
 * plugin refuses it). nixmount mounts the two READER_ONLY modes read-only and the others
 * as a writable overlay per publish (Swarm never sets `readonly` itself).
 */
export function swarmAccessMode(scope: SwarmScope, sharing: SwarmSharing): AccessMode | undefined {
  if (scope === 'single') return sharing === 'readonly' ? 'SINGLE_NODE_READER_ONLY' : 'SINGLE_NODE_WRITER';
  return ({ none: undefined, readonly: 'MULTI_NODE_READER_ONLY', onewriter: 'MULTI_NODE_SINGLE_WRITER', all: 'MULTI_NODE_MULTI_WRITER' } as const)[sharing];
}
