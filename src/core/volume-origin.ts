/**
 * Who published a volume: a CSI orchestrator (and `nixmount publish`), or the Nomad
 * host volume plugin. One path holds one record, but each side acts only on its own
 * records: a CSI call cannot remove a host volume, nor a host volume delete a CSI volume.
 */
export type VolumeOrigin = 'csi' | 'host-volume';
