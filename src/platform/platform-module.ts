import { ContainerModule } from 'inversify';
import type { Logger } from '../core/ports/logger.js';
import { Clock } from '../core/ports/clock.js';
import { ControllerState } from '../core/ports/controller-state.js';
import { Mounter } from '../core/ports/mounter.js';
import { NixStore, StoreGarbage } from '../core/ports/nix-store.js';
import { ProcessRunner } from './process-runner.js';
import { ViewStore } from '../core/ports/view-store.js';
import { VolumeDirs } from '../core/ports/volume-dirs.js';
import { StageState } from '../core/ports/stage-state.js';
import { VolumeState } from '../core/ports/volume-state.js';
import { ExecaProcessRunner } from './execa-process-runner.js';
import { FsVolumeDirs } from './fs-volume-dirs.js';
import { HardlinkViewStore } from './hardlink-view-store.js';
import { LinuxMounter } from './linux-mounter.js';
import { MountHelper } from './mount-helper.js';
import { controllerRecords, stageRecords, volumeRecords } from './record-stores.js';
import { NixCliStore } from './nix-cli-store.js';
import { NixStoreGc } from './nix-store-gc.js';
import { SystemClock } from './system-clock.js';
import { MountBudget } from '../core/ports/mount-budget.js';
import { ProcMountBudget } from './proc-mount-budget.js';

/**
 * The ports implemented on the real machine. The record stores are made from the
 * node's state dir and logger, given by the composition root (each store still made
 * on first use, once).
 */
export const platformModule = ({ stateDir, logger }: { stateDir: string; logger: Logger }) => new ContainerModule((bind) => {
  bind(ProcessRunner).to(ExecaProcessRunner).inSingletonScope();
  bind(NixStore).to(NixCliStore).inSingletonScope();
  bind(StoreGarbage).to(NixStoreGc).inSingletonScope();
  bind(ViewStore).to(HardlinkViewStore).inSingletonScope();
  bind(MountHelper).toSelf().inSingletonScope();
  bind(Mounter).to(LinuxMounter).inSingletonScope();
  bind(MountBudget).to(ProcMountBudget).inSingletonScope();
  bind(VolumeDirs).to(FsVolumeDirs).inSingletonScope();
  bind(VolumeState).toDynamicValue(() => volumeRecords(stateDir, logger)).inSingletonScope();
  bind(StageState).toDynamicValue(() => stageRecords(stateDir, logger)).inSingletonScope();
  bind(Clock).to(SystemClock).inSingletonScope();
  bind(ControllerState).toDynamicValue(() => controllerRecords(stateDir, logger)).inSingletonScope();
});
