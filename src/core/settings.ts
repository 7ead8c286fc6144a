export const NodeSettings = Symbol('NodeSettings');

/** Settings of one node plugin, given on `nixmount serve` and bound in the composition root. */
export interface NodeSettings {
  driverName: string;
  driverVersion: string;
  nodeId: string;
  stateDir: string;
  /** Views nobody holds are collected after this long (ms); 0 collects at once on release. */
  viewIdleMs: number;
}
