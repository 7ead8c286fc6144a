import type { Container } from 'inversify';
import type { PluginConfig } from './composition-root.js';
import { VolumeController } from './core/controller/volume-controller.js';
import { NodeRecovery } from './core/node-recovery.js';
import { NixStore } from './core/ports/nix-store.js';
import { NodeEvents } from './core/ports/node-events.js';
import { VolumePublisher } from './core/volume-publisher.js';
import { VolumeStager } from './core/volume-stager.js';
import { MountHelper } from './platform/mount-helper.js';
import { controllerService } from './csi/controller-service.js';
import type { CsiServices } from './csi/csi-server.js';
import { identityService } from './csi/identity-service.js';
import { nodeService } from './csi/node-service.js';
import { Readiness } from './csi/readiness.js';
import type { RpcHandlerFactory } from './csi/rpc-handler.js';

/** Which CSI services one `nixmount serve` runs (Nomad's csi_plugin `type` uses the same words). */
export const PLUGIN_MODES = ['node', 'controller', 'monolith'] as const;
export type PluginMode = (typeof PLUGIN_MODES)[number];

export function runsNode(mode: PluginMode): boolean {
  return mode !== 'controller';
}

export function runsController(mode: PluginMode): boolean {
  return mode !== 'node';
}

/**
 * Recovers the state of the services `mode` runs, then builds their handlers.
 * A controller alone touches no mounts and needs no Nix: its only state is its records.
 */
export async function startServices(mode: PluginMode, container: Container, config: PluginConfig, rpc: RpcHandlerFactory): Promise<CsiServices> {
  const services: Partial<CsiServices> = {};
  if (runsNode(mode)) {
    // The mount helper starts alongside recovery (which may already need it).
    await Promise.all([container.get(NodeRecovery).recover(), container.get(MountHelper).prepare()]);
    services.node = nodeService(rpc, {
      publisher: container.get(VolumePublisher),
      stager: container.get(VolumeStager),
      adapter: config.adapter,
      events: container.get<NodeEvents>(NodeEvents),
    });
  }
  if (runsController(mode)) {
    const controller = container.get(VolumeController);
    await controller.recover();
    services.controller = controllerService(rpc, { controller });
  }
  const nix = runsNode(mode) ? container.get<NixStore>(NixStore) : undefined;
  // A wedged mount helper makes every bind and unmount wait for the fallback: not ready until it answers.
  const helper = runsNode(mode) ? container.get(MountHelper) : undefined;
  const readiness = new Readiness(nix, config.settings.stateDir, config.logger, helper ? [() => helper.wedgedReason] : []);
  return {
    ...services,
    identity: identityService(rpc, {
      settings: config.settings,
      adapter: config.adapter,
      readiness,
      extraCapabilities: runsController(mode) ? [{ service: { type: 'CONTROLLER_SERVICE' } }] : [],
    }),
  };
}
