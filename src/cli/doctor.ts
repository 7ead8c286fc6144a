import { adapterOptionValues, type GivenAdapterOptions } from '../adapters/module/adapter-option-values.js';
import { defaultProtectedDirs } from '../adapters/common/paths.js';
import { chosenAdapter, createAdapterFrom } from '../adapters/registry.js';
import { physicalRoot } from '../platform/nix-settings.js';
import type { AdapterModule } from '../sdk/adapter-module.js';
import { runChecks, formatReport } from '../doctor/run-checks.js';
import { doctorChecks } from '../doctor/checks.js';
import { info, ok, type CheckResult } from '../doctor/check.js';
import type { DoctorConfig } from '../doctor/config.js';
import { serveValuesOf } from '../doctor/serve-process.js';
import { ExecaProcessRunner } from '../platform/execa-process-runner.js';
import { createLogger } from '../platform/pino-logger.js';
import type { DoctorValues } from '../settings/command-values.js';

/**
 * The directory whose mounts must reach the orchestrator: the option the adapter module
 * declares `propagated` (none for local), as serve would take it — the built-in adapter's
 * own flag, --adapter-option, NIXMOUNT_ADAPTER_<NAME>, or its default.
 */
function orchestratorDir(values: DoctorValues, module: AdapterModule, given: GivenAdapterOptions): DoctorConfig['orchestratorDir'] {
  const option = module.options.find((spec) => spec.propagated);
  if (!option) return undefined;
  const builtin = !values.adapterModule;
  return { path: adapterOptionValues(module, given)[option.name]!, flag: builtin ? `--${option.name}` : `--adapter-option ${option.name}=…` };
}

/** How the command line chose the orchestrator: only what was given is named. */
function orchestratorLabel(values: Pick<DoctorValues, 'orchestrator' | 'adapterModule'>, name: string): string {
  return values.adapterModule ? `--adapter-module ${values.adapterModule} (${name})` : `--orchestrator ${values.orchestrator}`;
}

/** With --serve-pid, the running serve's options replace doctor's own (but for --json), and a line says whose they are. */
async function chosenValues(given: DoctorValues): Promise<{ values: DoctorValues; source?: CheckResult; metricsAddress?: string }> {
  if (given.servePid === undefined) return { values: given };
  const pid = given.servePid;
  const { values, sameMountNamespace } = await serveValuesOf(pid);
  const chosen = { ...values, json: given.json, servePid: pid };
  // serve's own metrics say how its push queue is doing; an empty address is off.
  const metricsAddress = values.metricsAddress || undefined;
  const what = `the options of nixmount serve, process ${pid} (${values.adapterModule ? `--adapter-module ${values.adapterModule}` : `--orchestrator ${values.orchestrator}`}, --state-dir ${values.stateDir})`;
  if (sameMountNamespace) return { values: chosen, source: ok('serve-pid', `checking ${what}`), metricsAddress };
  return {
    values: chosen,
    metricsAddress,
    source: info(
      'serve-pid',
      `checking ${what}, from another mount namespace than that process's: the mount checks (store, state-dir, overlayfs, propagation, socket) see doctor's mounts, not serve's`,
      `run doctor in serve's mount namespace: nsenter --target ${pid} --mount -- nixmount doctor --serve-pid ${pid}`,
    ),
  };
}

/** `nixmount doctor`: checks this node as `serve` with the same options would use it; exit 1 on any problem. */
export async function doctor(asked: DoctorValues): Promise<number> {
  const { values, source, metricsAddress } = await chosenValues(asked);
  const { module, given } = await chosenAdapter(values);
  const label = orchestratorLabel(values, module.name);
  const config: DoctorConfig = {
    stateDir: values.stateDir,
    nix: {
      storeUri: values.store ?? '',
      substituters: values.substituters,
      trustedPublicKeys: values.trustedPublicKeys,
      // Nix takes whole seconds, at least 1 (as serve gives it).
      connectTimeoutSec: Math.max(1, Math.round(values.connectTimeout / 1000)),
    },
    // An adapter module's name stands for its orchestrator (the built-in ones are named as --orchestrator).
    orchestrator: module.name,
    orchestratorLabel: label,
    adapter: {
      label,
      nodeId: values.nodeId,
      build: () => createAdapterFrom(module, { nodeId: values.nodeId, protectedDirs: defaultProtectedDirs(values.stateDir, physicalRoot(values.store ?? '')) }, given),
    },
    orchestratorDir: orchestratorDir(values, module, given),
    endpoint: values.endpoint,
    gcHighPercent: values.storeGcHigh,
    mountHelper: values.mountHelper,
    push: { pushTo: values.pushTo, keyFile: values.pushKeyFile },
    serveMetricsAddress: metricsAddress,
    viewMode: values.viewMode,
    mountMaxFile: values.mountMaxFile,
  };
  const runner = new ExecaProcessRunner(createLogger({ level: 'silent' }));
  const results = [...(source ? [source] : []), ...(await runChecks(doctorChecks(config, runner)))];
  console.log(values.json ? JSON.stringify(results, null, 2) : formatReport(results));
  return results.some((result) => result.status === 'problem') ? 1 : 0;
}
