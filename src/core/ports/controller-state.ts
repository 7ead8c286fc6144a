import type { ProvisionedVolume } from '../controller/provisioned-volume.js';

export const ControllerState = Symbol('ControllerState');

/**
 * The controller's durable memory of the volumes it created, keyed by volume id.
 * Semantics: `put` replaces atomically; `delete` of an absent volume is not an
 * error; `load` rebuilds the in-memory index from disk; `list` is sorted by id.
 */
export interface ControllerState {
  load(): Promise<void>;
  get(volumeId: string): ProvisionedVolume | undefined;
  list(): ProvisionedVolume[];
  put(volume: ProvisionedVolume): Promise<void>;
  delete(volumeId: string): Promise<void>;
}
