import type { ViewMode } from './view-presentation.js';

export const NodeSettings = Symbol('NodeSettings');

/** Settings of one node plugin, given on `nixmount serve` and bound in the composition root. */
export interface NodeSettings {
  driverName: string;
  driverVersion: string;
  nodeId: string;
  stateDir: string;
  /** Views nobody holds are collected after this long (ms); 0 collects at once on release. */
  viewIdleMs: number;
  /** How read-only volumes' views present their closure (see view-presentation.ts); auto when absent. */
  viewMode?: ViewMode;
  /** Where fs.mount-max is read; /proc/sys/fs/mount-max when absent. */
  mountMaxFile?: string;
}
