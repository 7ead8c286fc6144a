import type { ProcessRunner } from '../platform/process-runner.js';
import { adapterCheck } from './adapter.js';
import type { Check } from './check.js';
import type { DoctorConfig } from './config.js';
import { diskCheck } from './disk-space.js';
import { mountHelperCheck } from './mount-helper.js';
import { nixCheck } from './nix.js';
import { orchestratorCheck } from './orchestrator.js';
import { overlayCheck } from './overlayfs.js';
import { propagationCheck } from './propagation.js';
import { socketCheck } from './socket-dir.js';
import { stateDirCheck } from './state-dir.js';
import { storeCheck } from './store.js';
import { substitutersCheck } from './substituters.js';
import { pushCacheCheck } from './push-cache.js';
import { pushQueueCheck } from './push-queue.js';
import { viewsCheck } from './views.js';

/** Every check of `nixmount doctor`, in the order a volume needs them. */
export function doctorChecks(config: DoctorConfig, runner: ProcessRunner): Check[] {
  return [
    nixCheck(runner),
    storeCheck(runner, config.nix),
    stateDirCheck(config.stateDir, config.nix.storeUri),
    overlayCheck(runner, config.stateDir),
    mountHelperCheck(runner, { helper: config.mountHelper }),
    adapterCheck(config.adapter),
    viewsCheck(runner, { viewMode: config.viewMode ?? 'auto', mountMaxFile: config.mountMaxFile ?? '/proc/sys/fs/mount-max', mounts: { helper: config.mountHelper } }),
    propagationCheck(config.orchestrator, config.orchestratorDir, config.orchestratorLabel),
    socketCheck(config.endpoint),
    substitutersCheck(runner, config.nix),
    pushCacheCheck({ ...config.push, trustedPublicKeys: config.nix.trustedPublicKeys, timeoutMs: config.nix.connectTimeoutSec * 1000 }),
    pushQueueCheck({ pushTo: config.push?.pushTo, metricsAddress: config.serveMetricsAddress, timeoutMs: config.nix.connectTimeoutSec * 1000 }),
    diskCheck(config.nix.storeUri, config.gcHighPercent),
    orchestratorCheck(config.orchestrator, runner, config.orchestratorLabel),
  ];
}
