import 'reflect-metadata';
import { Container } from 'inversify';
import { coreModule } from '../../src/core/core-module.js';
import { Clock } from '../../src/core/ports/clock.js';
import { Logger } from '../../src/core/ports/logger.js';
import { NixStore } from '../../src/core/ports/nix-store.js';
import { DEFAULT_SOURCE_SETTINGS, SourceSettings, type SourcePolicy } from '../../src/core/source-settings.js';
import { FakeClock, FakeNixStore } from './fakes.js';
import { RecordingLogger } from './recording-logger.js';

export interface TestContainer {
  container: Container;
  nix: FakeNixStore;
  clock: FakeClock;
  log: RecordingLogger;
  settings: SourceSettings;
}

/**
 * The core's services over fakes, for unit tests of the core. Binds the ports the
 * source pipeline needs (NixStore, Clock, Logger, SourceSettings); a test of other
 * core services binds the rest on the returned container.
 */
export function createTestContainer(options: { sources?: Partial<Omit<SourceSettings, 'policy'>> & { policy?: Partial<SourcePolicy> } } = {}): TestContainer {
  const nix = new FakeNixStore();
  const clock = new FakeClock();
  const log = new RecordingLogger();
  const settings: SourceSettings = {
    ...DEFAULT_SOURCE_SETTINGS,
    ...options.sources,
    policy: { ...DEFAULT_SOURCE_SETTINGS.policy, ...options.sources?.policy },
  };
  const container = new Container();
  container.bind(NixStore).toConstantValue(nix);
  container.bind(Clock).toConstantValue(clock);
  container.bind(Logger).toConstantValue(log);
  container.bind(SourceSettings).toConstantValue(settings);
  container.load(coreModule);
  return { container, nix, clock, log, settings };
}
