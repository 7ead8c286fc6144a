import type { OrchestratorAdapter } from '../core/orchestrator-adapter.js';
import type { NodeSettings } from '../core/settings.js';
import type { IdentityHandlers } from '../gen/csi/v1/Identity.js';
import type { PluginCapability } from '../gen/csi/v1/PluginCapability.js';
import type { Readiness } from './readiness.js';
import type { RpcHandlerFactory } from './rpc-handler.js';

export interface IdentityServiceDeps {
  settings: NodeSettings;
  adapter: OrchestratorAdapter;
  readiness: Readiness;
  /** Extra plugin capabilities contributed by other services (e.g. the controller). */
  extraCapabilities?: PluginCapability[];
}

export function identityService(rpc: RpcHandlerFactory, options: IdentityServiceDeps): IdentityHandlers {
  return {
    GetPluginInfo: rpc.unary({
      method: 'GetPluginInfo',
      handle: async () => ({ name: options.settings.driverName, vendor_version: options.settings.driverVersion, manifest: {} }),
    }),
    GetPluginCapabilities: rpc.unary({
      method: 'GetPluginCapabilities',
      handle: async () => {
        const capabilities: PluginCapability[] = [...(options.extraCapabilities ?? [])];
        if (Object.keys(options.adapter.nodeIdentity().topology).length > 0) {
          capabilities.push({ service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' } });
        }
        return { capabilities };
      },
    }),
    Probe: rpc.unary({
      method: 'Probe',
      handle: async () => ({ ready: { value: await options.readiness.ready() } }),
    }),
  };
}
