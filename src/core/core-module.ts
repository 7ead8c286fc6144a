import { ContainerModule } from 'inversify';
import { CachePusher } from './cache-pusher.js';
import { ClosureSource } from './closure-source.js';
import { VolumeController } from './controller/volume-controller.js';
import { EvaluationCache } from './evaluation-cache.js';
import { MountLifecycle } from './mount-lifecycle.js';
import { NodeEventHub } from './node-event-hub.js';
import { NodeRecovery } from './node-recovery.js';
import { PathLocks } from './path-locks.js';
import { NodeEvents } from './ports/node-events.js';
import { RealisationTracker } from './realisation-tracker.js';
import { Resolver } from './resolver.js';
import { RootedClosures } from './rooted-closures.js';
import { StoreGarbageCollector } from './store-gc.js';
import { ViewManager } from './view-manager.js';
import { VolumePublisher } from './volume-publisher.js';
import { VolumeStager } from './volume-stager.js';

/** The core's own services; the ports they need are bound by a platform or a test module. */
export const coreModule = new ContainerModule((bind) => {
  bind(EvaluationCache).toSelf().inSingletonScope();
  bind(RealisationTracker).toSelf().inSingletonScope();
  bind(Resolver).toSelf().inSingletonScope();
  bind(RootedClosures).toSelf().inSingletonScope();
  bind(ClosureSource).toSelf().inSingletonScope();
  bind(CachePusher).toSelf().inSingletonScope();
  bind(ViewManager).toSelf().inSingletonScope();
  bind(VolumePublisher).toSelf().inSingletonScope();
  bind(VolumeController).toSelf().inSingletonScope();
  bind(VolumeStager).toSelf().inSingletonScope();
  bind(MountLifecycle).toSelf().inSingletonScope();
  bind(PathLocks).toSelf().inSingletonScope();
  bind(NodeRecovery).toSelf().inSingletonScope();
  bind(NodeEvents).to(NodeEventHub).inSingletonScope();
  bind(StoreGarbageCollector).toSelf().inSingletonScope();
});
