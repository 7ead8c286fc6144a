import type { OrchestratorAdapter } from '../core/orchestrator-adapter.js';
import { DEFAULT_KUBELET_DIR } from './kubernetes/kubelet-paths.js';
import { KubernetesAdapter } from './kubernetes/kubernetes-adapter.js';
import { LocalAdapter } from './local/local-adapter.js';
import { NomadAdapter } from './nomad/nomad-adapter.js';
import { DEFAULT_STAGE_PUBLISH_BASE_DIR } from './nomad/nomad-paths.js';

export interface AdapterOptions {
  nodeId: string;
  /** Adapter-specific flags from the command line (e.g. --kubelet-dir), by flag name. */
  flags: Record<string, string | undefined>;
  /**
   * Directories no target or staging path may be, be inside or hide: the state dir (as
   * given; adapters add its realpath), /nix and the store's physical `<root>/nix`
   * (defaultProtectedDirs). Empty only in tests that build an adapter alone.
   */
  protectedDirs?: readonly string[];
}

type AdapterFactory = (options: AdapterOptions) => OrchestratorAdapter;

/** Orchestrators nixmount can serve; a third-party adapter is one more entry here. */
export const ADAPTERS: Record<string, AdapterFactory> = {
  local: (options) => new LocalAdapter(options.nodeId, { protectedDirs: options.protectedDirs ?? [] }),
  kubernetes: (options) =>
    new KubernetesAdapter({
      nodeName: options.nodeId,
      kubeletDir: options.flags['kubelet-dir'] ?? DEFAULT_KUBELET_DIR,
      protectedDirs: options.protectedDirs ?? [],
    }),
  nomad: (options) =>
    new NomadAdapter(options.nodeId, options.flags['stage-publish-base-dir'] ?? DEFAULT_STAGE_PUBLISH_BASE_DIR, options.protectedDirs ?? []),
};

export function createAdapter(name: string, options: AdapterOptions): OrchestratorAdapter {
  const factory = ADAPTERS[name];
  if (!factory) throw new Error(`--orchestrator: "${name}" is not one of ${Object.keys(ADAPTERS).join(', ')}`);
  return factory(options);
}
