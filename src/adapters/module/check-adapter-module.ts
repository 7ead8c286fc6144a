import type { OrchestratorAdapter } from '../../core/orchestrator-adapter.js';
import { SDK_VERSION, type AdapterModule } from '../../sdk/adapter-module.js';

/** An adapter module, or the adapter it built, does not fit the SDK; the message lists every problem. */
export class AdapterModuleError extends Error {
  constructor(
    readonly where: string,
    readonly problems: readonly string[],
  ) {
    super(`${where} does not fit nixmount's adapter SDK (docs/adapters.md):\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'AdapterModuleError';
  }
}

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

function typeOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/** What is wrong with `value` as an AdapterModule (empty when nothing). */
export function adapterModuleProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return [`the module's export is ${typeOf(value)}, not an object (export default defineAdapter({ … }))`];
  const module = value as Record<string, unknown>;
  const problems: string[] = [];
  if (module.sdkVersion === undefined) problems.push(`sdkVersion is missing (write SDK_VERSION from nixmount/sdk; this nixmount speaks ${SDK_VERSION})`);
  else if (module.sdkVersion !== SDK_VERSION) {
    problems.push(`sdkVersion is ${JSON.stringify(module.sdkVersion)}; this nixmount speaks SDK version ${SDK_VERSION} (build the adapter against a matching nixmount)`);
  }
  if (typeof module.name !== 'string') problems.push(`name is ${module.name === undefined ? 'missing' : typeOf(module.name)}; it must be a string such as "swarm"`);
  else if (!NAME.test(module.name)) problems.push(`name "${module.name}" must be lower-case words joined by "-"`);
  if (typeof module.summary !== 'string' || module.summary.trim() === '') problems.push('summary is missing: one line saying which orchestrator this is');
  if (typeof module.create !== 'function') {
    problems.push(`create is ${module.create === undefined ? 'missing' : typeOf(module.create)}; it must be a function (context) => OrchestratorAdapter`);
  }
  if (!Array.isArray(module.options)) problems.push(`options is ${module.options === undefined ? 'missing' : typeOf(module.options)}; it must be an array (empty when the adapter takes none)`);
  else {
    const seen = new Set<string>();
    for (const [index, option] of (module.options as unknown[]).entries()) {
      const spec = (typeof option === 'object' && option !== null ? option : {}) as Record<string, unknown>;
      const label = typeof spec.name === 'string' ? `options[${index}] ("${spec.name}")` : `options[${index}]`;
      if (typeof spec.name !== 'string' || !NAME.test(spec.name)) problems.push(`${label}: name must be lower-case words joined by "-" (it becomes --adapter-option NAME=…)`);
      else if (spec.name === 'module') problems.push(`${label}: the name "module" is taken (NIXMOUNT_ADAPTER_MODULE names the module itself)`);
      else if (seen.has(spec.name)) problems.push(`${label}: declared twice`);
      else seen.add(spec.name);
      if (typeof spec.help !== 'string' || spec.help.trim() === '') problems.push(`${label}: help is missing`);
      if (spec.default !== undefined && typeof spec.default !== 'string') problems.push(`${label}: default must be a string (values are text), not ${typeOf(spec.default)}`);
      if (spec.propagated !== undefined && typeof spec.propagated !== 'boolean') problems.push(`${label}: propagated must be true or false, not ${typeOf(spec.propagated)}`);
    }
    const propagated = (module.options as Array<{ propagated?: unknown; name?: unknown }>).filter((spec) => spec?.propagated === true);
    if (propagated.length > 1) problems.push(`options: ${propagated.map((spec) => `"${String(spec.name)}"`).join(' and ')} are all propagated; one directory at most is`);
  }
  if (module.replay !== undefined) {
    const replay = module.replay as Record<string, unknown>;
    if (typeof replay.options !== 'function' || typeof replay.steps !== 'function') problems.push('replay must have the functions options(root) and steps(root, volume)');
    const open = replay.openKeyPrefixes;
    if (open !== undefined && (!Array.isArray(open) || !open.every((prefix) => typeof prefix === 'string' && prefix !== ''))) {
      problems.push(`replay.openKeyPrefixes must be an array of non-empty prefixes such as "csi.storage.k8s.io/", not ${Array.isArray(open) ? JSON.stringify(open) : typeOf(open)}`);
    }
  }
  return problems;
}

export function checkAdapterModule(value: unknown, where: string): AdapterModule {
  const problems = adapterModuleProblems(value);
  if (problems.length > 0) throw new AdapterModuleError(where, problems);
  return value as AdapterModule;
}

const METHODS = ['parseVolumeContext', 'nodeIdentity', 'checkTargetPath', 'checkStagingPath'] as const;

/** What is wrong with what `create` returned as an OrchestratorAdapter. */
export function adapterProblems(value: unknown, module: AdapterModule): string[] {
  if (typeof value !== 'object' || value === null) return [`create returned ${typeOf(value)}, not an adapter object`];
  const adapter = value as Record<string, unknown>;
  const problems: string[] = [];
  if (adapter.name !== module.name) problems.push(`the adapter's name is ${JSON.stringify(adapter.name)}; it must be the module's, "${module.name}"`);
  if (typeof adapter.supportsStaging !== 'boolean') problems.push(`supportsStaging is ${adapter.supportsStaging === undefined ? 'missing' : typeOf(adapter.supportsStaging)}; it must be true or false`);
  for (const method of METHODS) {
    if (typeof adapter[method] !== 'function') problems.push(`${method} is ${adapter[method] === undefined ? 'missing' : typeOf(adapter[method])}; it must be a method`);
  }
  return problems;
}

export function checkAdapter(value: unknown, module: AdapterModule, where: string): OrchestratorAdapter {
  const problems = adapterProblems(value, module);
  if (problems.length > 0) throw new AdapterModuleError(where, problems);
  return value as OrchestratorAdapter;
}
