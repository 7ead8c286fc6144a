import { defineAdapter, SDK_VERSION } from 'nixmount/sdk';
import { SwarmAdapter } from './swarm-adapter.js';
import { DEFAULT_PUBLISHED_DIR, DEFAULT_STAGED_DIR } from './swarm-paths.js';
import { swarmReplay } from './swarm-replay.js';

export { swarmAccessMode, type SwarmScope, type SwarmSharing } from './access-mode.js';
export { SwarmAdapter } from './swarm-adapter.js';

/** `nixmount serve --mode monolith --adapter-module nixmount-adapter-docker-swarm`. */
export default defineAdapter({
  sdkVersion: SDK_VERSION,
  name: 'docker-swarm',
  summary: 'Docker Swarm cluster volumes: a managed plugin staged at /data/staged/<id> and published at /data/published/<id>',
  options: [
    {
      name: 'published-dir', default: DEFAULT_PUBLISHED_DIR, arg: 'DIR',
      help: 'where Swarm publishes (the managed plugin\'s propagatedMount); targets are <DIR>/<volume id>',
      propagated: true,
    },
    { name: 'staged-dir', default: DEFAULT_STAGED_DIR, arg: 'DIR', help: 'where Swarm stages; staging paths are <DIR>/<volume id>' },
  ],
  create: (context) =>
    new SwarmAdapter({
      nodeId: context.nodeId,
      publishedDir: context.options['published-dir']!,
      stagedDir: context.options['staged-dir']!,
      protectedDirs: context.protectedDirs,
    }),
  replay: swarmReplay,
});
