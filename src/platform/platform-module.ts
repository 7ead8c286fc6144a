import { ContainerModule, type interfaces } from 'inversify';
import { Logger } from '../core/ports/logger.js';
import { NodeSettings } from '../core/settings.js';
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

const stateDir = (container: interfaces.Container) => container.get<NodeSettings>(NodeSettings).stateDir;

/** The ports implemented on the real machine. */
export const platformModule = new ContainerModule((bind) => {
  bind(ProcessRunner).to(ExecaProcessRunner).inSingletonScope();
  bind(NixStore).to(NixCliStore).inSingletonScope();
  bind(StoreGarbage).to(NixStoreGc).inSingletonScope();
  bind(ViewStore).to(HardlinkViewStore).inSingletonScope();
  bind(MountHelper).toSelf().inSingletonScope();
  bind(Mounter).to(LinuxMounter).inSingletonScope();
  bind(VolumeDirs).to(FsVolumeDirs).inSingletonScope();
  bind(VolumeState).toDynamicValue(({ container }) => volumeRecords(stateDir(container), container.get(Logger))).inSingletonScope();
  bind(StageState).toDynamicValue(({ container }) => stageRecords(stateDir(container), container.get(Logger))).inSingletonScope();
  bind(Clock).to(SystemClock).inSingletonScope();
  bind(ControllerState).toDynamicValue(({ container }) => controllerRecords(stateDir(container), container.get(Logger))).inSingletonScope();
});
