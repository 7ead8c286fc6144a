import 'reflect-metadata';
import { Container } from 'inversify';
import { CachePusher } from './core/cache-pusher.js';
import { VolumeController } from './core/controller/volume-controller.js';
import { coreModule } from './core/core-module.js';
import { NodeRecovery } from './core/node-recovery.js';
import type { OrchestratorAdapter } from './core/orchestrator-adapter.js';
import { Logger } from './core/ports/logger.js';
import { Mounter } from './core/ports/mounter.js';
import { NixStore } from './core/ports/nix-store.js';
import { NodeEvents } from './core/ports/node-events.js';
import { StageState } from './core/ports/stage-state.js';
import { ViewStore } from './core/ports/view-store.js';
import { VolumeState } from './core/ports/volume-state.js';
import { RealisationTracker } from './core/realisation-tracker.js';
import { StoreGarbageCollector } from './core/store-gc.js';
import { ViewManager } from './core/view-manager.js';
import { VolumePublisher } from './core/volume-publisher.js';
import { NodeVolumes, type VolumeContextReader } from './core/node-volumes.js';
import { PathLocks } from './core/path-locks.js';
import { VolumeStager } from './core/volume-stager.js';
import { NodeSettings } from './core/settings.js';
import { DEFAULT_SOURCE_SETTINGS, SourceSettings } from './core/source-settings.js';
import { STORE_GC_OFF, StoreGcSettings } from './core/store-watermarks.js';
import { MountHelper, MountHelperSettings } from './platform/mount-helper.js';
import { NixSettings } from './platform/nix-settings.js';
import { platformModule } from './platform/platform-module.js';

export interface PluginConfig {
  settings: NodeSettings;
  nix: NixSettings;
  adapter: OrchestratorAdapter;
  logger: Logger;
  /** Source policy and realisation behaviour; the defaults accept store paths only. */
  sources?: SourceSettings;
  /** Store GC watermarks; off when absent. */
  storeGc?: StoreGcSettings;
  /** How binds and unmounts are made; the mount helper where the node can run it when absent. */
  mounts?: MountHelperSettings;
}

/** The one place real implementations are bound. */
export function createContainer(config: PluginConfig): Container {
  const container = new Container();
  container.bind(NodeSettings).toConstantValue(config.settings);
  container.bind(NixSettings).toConstantValue(config.nix);
  container.bind(SourceSettings).toConstantValue(config.sources ?? DEFAULT_SOURCE_SETTINGS);
  container.bind(StoreGcSettings).toConstantValue(config.storeGc ?? STORE_GC_OFF);
  container.bind(MountHelperSettings).toConstantValue(config.mounts ?? { helper: 'auto' });
  container.bind(Logger).toConstantValue(config.logger);
  container.load(coreModule, platformModule({ stateDir: config.settings.stateDir, logger: config.logger }));
  return container;
}

/**
 * The services of one node that commands, the CSI services and the running plugin
 * call. They are handed these, never the container: only this file resolves from it.
 * Each is resolved when first read, as the container would resolve it then, so a
 * controller alone never builds the node's Nix store or mount helper.
 */
export interface NodeServices {
  /**
   * The node's front door for an entrance whose orchestrator is `adapter` (it reads
   * the volume contexts): every publish, unpublish, stage and unstage goes through one,
   * and all of them share the node's path locks.
   */
  volumesFor(adapter: VolumeContextReader): NodeVolumes;
  readonly publisher: VolumePublisher;
  readonly stager: VolumeStager;
  readonly recovery: NodeRecovery;
  readonly views: ViewManager;
  readonly events: NodeEvents;
  readonly nix: NixStore;
  readonly mounter: Mounter;
  readonly mountHelper: MountHelper;
  readonly storeGc: StoreGarbageCollector;
  readonly cachePusher: CachePusher;
  readonly controller: VolumeController;
  readonly volumes: VolumeState;
  readonly stages: StageState;
  readonly viewStore: ViewStore;
  readonly realisations: RealisationTracker;
}

/** The node's services over a container bound by {@link createContainer} (tests pass one with fakes bound). */
export function nodeServices(container: Container): NodeServices {
  return {
    volumesFor: (adapter) =>
      new NodeVolumes(
        {
          publisher: container.get(VolumePublisher),
          stager: container.get(VolumeStager),
          locks: container.get(PathLocks),
          events: container.get<NodeEvents>(NodeEvents),
          log: container.get<Logger>(Logger),
        },
        adapter,
      ),
    get publisher() { return container.get(VolumePublisher); },
    get stager() { return container.get(VolumeStager); },
    get recovery() { return container.get(NodeRecovery); },
    get views() { return container.get(ViewManager); },
    get events() { return container.get<NodeEvents>(NodeEvents); },
    get nix() { return container.get<NixStore>(NixStore); },
    get mounter() { return container.get<Mounter>(Mounter); },
    get mountHelper() { return container.get(MountHelper); },
    get storeGc() { return container.get(StoreGarbageCollector); },
    get cachePusher() { return container.get(CachePusher); },
    get controller() { return container.get(VolumeController); },
    get volumes() { return container.get<VolumeState>(VolumeState); },
    get stages() { return container.get<StageState>(StageState); },
    get viewStore() { return container.get<ViewStore>(ViewStore); },
    get realisations() { return container.get(RealisationTracker); },
  };
}

/** A node composed from `config`: the real implementations bound, its services handed out. */
export function composeNode(config: PluginConfig): NodeServices {
  return nodeServices(createContainer(config));
}
