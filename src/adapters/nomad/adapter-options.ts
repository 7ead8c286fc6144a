import { text } from '../../settings/option.js';
import { DEFAULT_STAGE_PUBLISH_BASE_DIR } from './nomad-paths.js';

/** What `serve --orchestrator nomad` needs beyond the node id. */
export const NOMAD_OPTIONS = {
  stagePublishBaseDir: text({
    flag: 'stage-publish-base-dir', default: DEFAULT_STAGE_PUBLISH_BASE_DIR, arg: 'DIR',
    help: 'the csi_plugin\'s stage_publish_base_dir; staging and target paths must lie below it', commands: ['serve', 'doctor'], section: 'nomad',
  }),
} as const;
