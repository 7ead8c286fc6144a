import 'reflect-metadata';
import { Container, ContainerModule } from 'inversify';
import { coreModule } from '../../src/core/core-module.js';
import { Clock } from '../../src/core/ports/clock.js';
import { Logger } from '../../src/core/ports/logger.js';
import { Mounter } from '../../src/core/ports/mounter.js';
import { MountBudget } from '../../src/core/ports/mount-budget.js';
import { NixStore } from '../../src/core/ports/nix-store.js';
import { StageState } from '../../src/core/ports/stage-state.js';
import { ViewStore } from '../../src/core/ports/view-store.js';
import { VolumeDirs } from '../../src/core/ports/volume-dirs.js';
import { VolumeState } from '../../src/core/ports/volume-state.js';
import { NodeSettings } from '../../src/core/settings.js';
import { DEFAULT_SOURCE_SETTINGS, SourceSettings, type SourcePolicy } from '../../src/core/source-settings.js';
import { FakeClock, FakeMounter, FakeNixStore, FakeViewStore, FakeVolumeDirs, MemoryStageState, MemoryVolumeState } from './fakes.js';
import { RecordingLogger } from './recording-logger.js';

export interface TestContainerOptions {
  settings?: Partial<NodeSettings>;
  /** Source policy and realisation timings; unset fields keep the production defaults. */
  sources?: Partial<Omit<SourceSettings, 'policy'>> & { policy?: Partial<SourcePolicy> };
}

export interface TestContainer {
  container: Container;
  nix: FakeNixStore;
  views: FakeViewStore;
  mounter: FakeMounter;
  dirs: FakeVolumeDirs;
  state: MemoryVolumeState;
  stages: MemoryStageState;
  clock: FakeClock;
  log: RecordingLogger;
  settings: SourceSettings;
}

/**
 * The core's own module with every port bound to an in-memory fake (no process, no
 * file, no mount), for unit tests of the core: the same inversify wiring as production.
 */
export function createTestContainer(options: TestContainerOptions = {}): TestContainer {
  const settings: SourceSettings = {
    ...DEFAULT_SOURCE_SETTINGS,
    ...options.sources,
    policy: { ...DEFAULT_SOURCE_SETTINGS.policy, ...options.sources?.policy },
  };
  const fakes = {
    nix: new FakeNixStore(),
    views: new FakeViewStore(),
    mounter: new FakeMounter(),
    dirs: new FakeVolumeDirs(),
    state: new MemoryVolumeState(),
    stages: new MemoryStageState(),
    clock: new FakeClock(),
    log: new RecordingLogger(),
  };
  const fakeModule = new ContainerModule((bind) => {
    bind(NixStore).toConstantValue(fakes.nix);
    bind(ViewStore).toConstantValue(fakes.views);
    bind(Mounter).toConstantValue(fakes.mounter);
    // An empty node with Linux's default fs.mount-max: every read-only closure fits a bind farm.
    bind(MountBudget).toConstantValue({ count: () => Promise.resolve({ max: 100_000, used: 0 }), claim: () => () => undefined });
    bind(VolumeDirs).toConstantValue(fakes.dirs);
    bind(VolumeState).toConstantValue(fakes.state);
    bind(StageState).toConstantValue(fakes.stages);
    bind(Clock).toConstantValue(fakes.clock);
    bind(Logger).toConstantValue(fakes.log);
    bind(SourceSettings).toConstantValue(settings);
    bind(NodeSettings).toConstantValue({
      driverName: 'nixmount.test',
      driverVersion: '0.0.0',
      nodeId: 'fake-node',
      stateDir: '/state',
      viewIdleMs: 0,
      ...options.settings,
    });
  });
  const container = new Container();
  container.load(coreModule, fakeModule);
  return { container, settings, ...fakes };
}
