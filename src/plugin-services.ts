import type { NodeServices, PluginConfig } from './composition-root.js';
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
export async function startServices(mode: PluginMode, node: NodeServices, config: PluginConfig, rpc: RpcHandlerFactory): Promise<CsiServices> {
  const services: Partial<CsiServices> = {};
  if (runsNode(mode)) {
    // The mount helper starts alongside recovery (which may already need it).
    await Promise.all([node.recovery.recover(), node.mountHelper.prepare()]);
    services.node = nodeService(rpc, { volumes: node.volumesFor(config.adapter), adapter: config.adapter });
  }
  if (runsController(mode)) {
    const controller = node.controller;
    await controller.recover();
    services.controller = controllerService(rpc, { controller });
  }
  const nix = runsNode(mode) ? node.nix : undefined;
  // A wedged mount helper makes every bind and unmount wait for the fallback: not ready until it answers.
  const helper = runsNode(mode) ? node.mountHelper : undefined;
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
