import { adapterOptionValues } from '../adapters/module/adapter-option-values.js';
import { BUILTIN_ADAPTERS, builtinFlagValues, type AdapterName } from '../adapters/registry.js';
import { runChecks, formatReport } from '../doctor/run-checks.js';
import { doctorChecks } from '../doctor/checks.js';
import { info, ok, type CheckResult } from '../doctor/check.js';
import type { DoctorConfig } from '../doctor/config.js';
import { serveValuesOf } from '../doctor/serve-process.js';
import { ExecaProcessRunner } from '../platform/execa-process-runner.js';
import { createLogger } from '../platform/pino-logger.js';
import type { DoctorValues } from '../settings/commands.js';

// The adapter option naming the directory whose mounts must reach the host, for the orchestrators that have one.
const PROPAGATED_DIR_OPTION: Partial<Record<AdapterName, string>> = { kubernetes: 'kubelet-dir', nomad: 'stage-publish-base-dir' };

/** That directory as serve would take it: the adapter's own flag, --adapter-option, NIXMOUNT_ADAPTER_<NAME>, or its default. */
function orchestratorDir(values: DoctorValues): DoctorConfig['orchestratorDir'] {
  const option = PROPAGATED_DIR_OPTION[values.orchestrator];
  if (!option) return undefined;
  const module = BUILTIN_ADAPTERS[values.orchestrator];
  const given = adapterOptionValues(module, { pairs: [], flags: builtinFlagValues(module, values as unknown as Record<string, unknown>), env: process.env });
  return { path: given[option]!, flag: `--${option}` };
}

/** With --serve-pid, the running serve's options replace doctor's own (but for --json), and a line says whose they are. */
async function chosenValues(given: DoctorValues): Promise<{ values: DoctorValues; source?: CheckResult }> {
  if (given.servePid === undefined) return { values: given };
  const pid = given.servePid;
  const { values, sameMountNamespace } = await serveValuesOf(pid);
  const chosen = { ...values, json: given.json, servePid: pid };
  const what = `the options of nixmount serve, process ${pid} (--orchestrator ${values.orchestrator}, --state-dir ${values.stateDir})`;
  if (sameMountNamespace) return { values: chosen, source: ok('serve-pid', `checking ${what}`) };
  return {
    values: chosen,
    source: info(
      'serve-pid',
      `checking ${what}, from another mount namespace than that process's: the mount checks (store, state-dir, overlayfs, propagation, socket) see doctor's mounts, not serve's`,
      `run doctor in serve's mount namespace: nsenter --target ${pid} --mount -- nixmount doctor --serve-pid ${pid}`,
    ),
  };
}

/** `nixmount doctor`: checks this node as `serve` with the same options would use it; exit 1 on any problem. */
export async function doctor(given: DoctorValues): Promise<number> {
  const { values, source } = await chosenValues(given);
  const config: DoctorConfig = {
    stateDir: values.stateDir,
    nix: {
      storeUri: values.store ?? '',
      substituters: values.substituters,
      trustedPublicKeys: values.trustedPublicKeys,
      // Nix takes whole seconds, at least 1 (as serve gives it).
      connectTimeoutSec: Math.max(1, Math.round(values.connectTimeout / 1000)),
    },
    orchestrator: values.orchestrator,
    orchestratorDir: orchestratorDir(values),
    endpoint: values.endpoint,
    gcHighPercent: values.storeGcHigh,
  };
  const runner = new ExecaProcessRunner(createLogger({ level: 'silent' }));
  const results = [...(source ? [source] : []), ...(await runChecks(doctorChecks(config, runner)))];
  console.log(values.json ? JSON.stringify(results, null, 2) : formatReport(results));
  return results.some((result) => result.status === 'problem') ? 1 : 0;
}
