import { statfs } from 'node:fs/promises';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../core/ports/logger.js';
import { modeLabel } from './event-metrics.js';

/** What the node holds now, read at each scrape (so the numbers are right after a restart, unlike counted events). */
export interface NodeReadings {
  /** The adapter's name (kubernetes, nomad, local). */
  orchestrator: string;
  /** Published volumes (the durable records). */
  volumes(): ReadonlyArray<{ readonly: boolean }>;
  /** Staged volumes (Nomad's NodeStageVolume). */
  stagedVolumes(): number;
  /** Every view on disk, and whether a volume or a call in flight holds it. */
  views(): Promise<ReadonlyArray<{ inUse: boolean }>>;
  /** The phase of each realisation under way. */
  realisationPhases(): readonly string[];
  /** The node store's directory on this machine (its filesystem is measured). */
  storeDir: string;
}

const REALISE_PHASES = ['evaluating', 'checking', 'realising', 'pushing'];

/** Registers the gauges whose values are read from the node when scraped. */
export function registerNodeGauges(registry: Registry, node: NodeReadings, log: Logger): void {
  const registers = [registry];
  const { orchestrator } = node;
  new Gauge({
    name: 'nixmount_volumes', help: 'Volumes published on this node, by orchestrator and mount mode', labelNames: ['orchestrator', 'mode'], registers,
    collect() {
      const counts = { read_only: 0, read_write: 0 };
      for (const volume of node.volumes()) counts[modeLabel(volume.readonly)]++;
      for (const [mode, count] of Object.entries(counts)) this.labels(orchestrator, mode).set(count);
    },
  });
  new Gauge({
    name: 'nixmount_staged_volumes', help: 'Volumes staged on this node (NodeStageVolume), by orchestrator', labelNames: ['orchestrator'], registers,
    collect() {
      this.labels(orchestrator).set(node.stagedVolumes());
    },
  });
  new Gauge({
    name: 'nixmount_views', help: 'Views on this node, by orchestrator and state (in_use: held by a volume or a call; idle: collected after --view-idle)',
    labelNames: ['orchestrator', 'state'], registers,
    async collect() {
      // A scrape must not fail because the state dir cannot be read: the gauge is left out and the reason logged.
      this.reset();
      const views = await node.views().catch((error: unknown) => {
        log.warn({ err: error }, 'metrics: listing the views failed');
        return undefined;
      });
      if (!views) return;
      const inUse = views.filter((view) => view.inUse).length;
      this.labels(orchestrator, 'in_use').set(inUse);
      this.labels(orchestrator, 'idle').set(views.length - inUse);
    },
  });
  new Gauge({
    name: 'nixmount_realisations_in_flight', help: 'Sources being evaluated, checked, realised or pushed now (one per source, however many calls wait)',
    labelNames: ['phase'], registers,
    collect() {
      const counts = new Map(REALISE_PHASES.map((phase) => [phase, 0]));
      for (const phase of node.realisationPhases()) counts.set(phase, (counts.get(phase) ?? 0) + 1);
      for (const [phase, count] of counts) this.labels(phase).set(count);
    },
  });
  for (const [field, help] of [
    ['size', 'Size of the filesystem holding the node store'],
    ['free', 'Free bytes on the filesystem holding the node store (root may use them all)'],
    ['avail', 'Bytes available to unprivileged users on the filesystem holding the node store'],
  ] as const) {
    new Gauge({
      name: `nixmount_store_filesystem_${field}_bytes`, help, registers,
      async collect() {
        // On failure the last reading stays (a filesystem does not shrink to 0 because statfs failed once).
        const fs = await statfs(node.storeDir).catch((error: unknown) => log.warn({ err: error, storeDir: node.storeDir }, 'metrics: statfs of the store failed'));
        if (!fs) return;
        const blocks = { size: fs.blocks, free: fs.bfree, avail: fs.bavail }[field];
        this.set(blocks * fs.bsize);
      },
    });
  }
}
