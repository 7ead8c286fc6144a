import type { OrchestratorAdapter } from '../core/orchestrator-adapter.js';
import { defaultValues } from '../settings/command-line.js';
import type { OptionTable, Values } from '../settings/option.js';
import { KUBERNETES_OPTIONS } from './kubernetes/adapter-options.js';
import { KubernetesAdapter } from './kubernetes/kubernetes-adapter.js';
import { LocalAdapter } from './local/local-adapter.js';
import { NOMAD_OPTIONS } from './nomad/adapter-options.js';
import { NomadAdapter } from './nomad/nomad-adapter.js';

/** What the composition gives every adapter, whichever orchestrator it serves. */
export interface AdapterOptions {
  nodeId: string;
  /**
   * Directories no target or staging path may be, be inside or hide: the state dir (as
   * given; adapters add its realpath), /nix and the store's physical `<root>/nix`
   * (defaultProtectedDirs). Empty only in tests that build an adapter alone.
   */
  protectedDirs?: readonly string[];
}

interface AdapterEntry<T extends OptionTable> {
  /** The adapter's own options (flags of `serve`), in the settings table format. */
  options: T;
  create(options: AdapterOptions & Values<T>): OrchestratorAdapter;
}

function adapter<T extends OptionTable>(options: T, create: (options: AdapterOptions & Values<T>) => OrchestratorAdapter): AdapterEntry<T> {
  return { options, create };
}

/** Orchestrators nixmount can serve; a third-party adapter is one more entry here. */
export const ADAPTERS = {
  local: adapter({}, (options) => new LocalAdapter(options.nodeId, { protectedDirs: options.protectedDirs ?? [] })),
  kubernetes: adapter(KUBERNETES_OPTIONS, (options) =>
    new KubernetesAdapter({ nodeName: options.nodeId, kubeletDir: options.kubeletDir, protectedDirs: options.protectedDirs ?? [] }),
  ),
  nomad: adapter(NOMAD_OPTIONS, (options) => new NomadAdapter(options.nodeId, options.stagePublishBaseDir, options.protectedDirs ?? [])),
};

export type AdapterName = keyof typeof ADAPTERS;
export const ADAPTER_NAMES = Object.keys(ADAPTERS) as AdapterName[];

/** Every adapter's options: `serve` takes them all, whichever orchestrator is chosen. */
export const ADAPTER_OPTIONS = { ...KUBERNETES_OPTIONS, ...NOMAD_OPTIONS } as const;
export type AdapterValues = Values<typeof ADAPTER_OPTIONS>;

/** The adapter `name`, given the common options and its own (from `serve`'s parsed values; the defaults where absent). */
export function createAdapter(name: AdapterName, options: AdapterOptions & Partial<AdapterValues>): OrchestratorAdapter {
  const entry: AdapterEntry<OptionTable> = ADAPTERS[name];
  return entry.create({ ...defaultValues(Object.entries(entry.options)), ...options });
}
