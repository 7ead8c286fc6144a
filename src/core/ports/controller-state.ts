import type { RecordStore } from './record-store.js';
import type { ProvisionedVolume } from '../controller/provisioned-volume.js';

export const ControllerState = Symbol('ControllerState');

/** The controller's volumes, keyed by volume id. */
export type ControllerState = RecordStore<ProvisionedVolume>;
