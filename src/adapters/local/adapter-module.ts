import { defineAdapter, SDK_VERSION } from '../../sdk/adapter-module.js';
import { LocalAdapter } from './local-adapter.js';
import { localReplay } from './local-replay.js';

/** `serve --orchestrator local` (and `nixmount publish`), declared like any adapter module. */
export const localModule = defineAdapter({
  sdkVersion: SDK_VERSION,
  name: 'local',
  summary: 'no orchestrator: people and scripts publishing into directories of their choice',
  options: [],
  create: (context) => new LocalAdapter(context.nodeId, { protectedDirs: context.protectedDirs }),
  replay: localReplay,
});

/** As `serve --adapter-module` and the test kit load a module: its default export. */
export default localModule;
