import { defineAdapter, SDK_VERSION } from '../../sdk/adapter-module.js';
import { NomadAdapter } from './nomad-adapter.js';
import { DEFAULT_STAGE_PUBLISH_BASE_DIR } from './nomad-paths.js';
import { nomadReplay } from './nomad-replay.js';

/** `serve --orchestrator nomad`, declared like any adapter module. */
export const nomadModule = defineAdapter({
  sdkVersion: SDK_VERSION,
  name: 'nomad',
  summary: 'Nomad: CSI volumes staged once per node and published per allocation below the plugin\'s stage_publish_base_dir',
  options: [
    {
      name: 'stage-publish-base-dir', default: DEFAULT_STAGE_PUBLISH_BASE_DIR, arg: 'DIR',
      help: 'the csi_plugin\'s stage_publish_base_dir; staging and target paths must lie below it',
      propagated: true,
    },
  ],
  create: (context) => new NomadAdapter(context.nodeId, context.options['stage-publish-base-dir'], context.protectedDirs),
  replay: nomadReplay,
});

/** As `serve --adapter-module` and the test kit load a module: its default export. */
export default nomadModule;
