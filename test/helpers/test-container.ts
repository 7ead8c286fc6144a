import 'reflect-metadata';
import { Container, ContainerModule } from 'inversify';
import { coreModule } from '../../src/core/core-module.js';
import { Clock } from '../../src/core/ports/clock.js';
import { Logger } from '../../src/core/ports/logger.js';
import { Mounter } from '../../src/core/ports/mounter.js';
import { NixStore } from '../../src/core/ports/nix-store.js';
import { ViewStore } from '../../src/core/ports/view-store.js';
import { VolumeDirs } from '../../src/core/ports/volume-dirs.js';
import { StageState } from '../../src/core/ports/stage-state.js';
import { VolumeState } from '../../src/core/ports/volume-state.js';
import { NodeSettings } from '../../src/core/settings.js';
import { FakeClock, FakeMounter, FakeNixStore, FakeViewStore, FakeVolumeDirs, MemoryStageState, MemoryVolumeState, silentLogger } from './fakes.js';

export interface Fakes {
  nix: FakeNixStore;
  views: FakeViewStore;
  mounter: FakeMounter;
  dirs: FakeVolumeDirs;
  state: MemoryVolumeState;
  stages: MemoryStageState;
  clock: FakeClock;
}

/** The core's own module with every port bound to an in-memory fake: no process, no file, no mount. */
export function createTestContainer(settings: Partial<NodeSettings> = {}): { container: Container; fakes: Fakes } {
  const fakes: Fakes = {
    nix: new FakeNixStore(),
    views: new FakeViewStore(),
    mounter: new FakeMounter(),
    dirs: new FakeVolumeDirs(),
    state: new MemoryVolumeState(),
    stages: new MemoryStageState(),
    clock: new FakeClock(),
  };
  const fakeModule = new ContainerModule((bind) => {
    bind(NixStore).toConstantValue(fakes.nix);
    bind(ViewStore).toConstantValue(fakes.views);
    bind(Mounter).toConstantValue(fakes.mounter);
    bind(VolumeDirs).toConstantValue(fakes.dirs);
    bind(VolumeState).toConstantValue(fakes.state);
    bind(StageState).toConstantValue(fakes.stages);
    bind(Clock).toConstantValue(fakes.clock);
    bind(Logger).toConstantValue(silentLogger);
    bind(NodeSettings).toConstantValue({
      driverName: 'nixmount.test',
      driverVersion: '0.0.0',
      nodeId: 'fake-node',
      stateDir: '/state',
      viewIdleMs: 0,
      ...settings,
    });
  });
  const container = new Container();
  container.load(coreModule, fakeModule);
  return { container, fakes };
}
