import { ok, problem, type Check } from './check.js';

const NAME = 'adapter';

/** Whose adapter doctor builds, and how: as serve would, with the same node id, options and protected dirs. */
export interface AdapterToBuild {
  /** How the command line chose it: `--orchestrator nomad`, `--adapter-module ./a.js (swarm)`. */
  label: string;
  nodeId: string;
  /** Builds it exactly as serve does; throws what serve's start would. */
  build(): { name: string; supportsStaging: boolean };
}

/**
 * serve builds its adapter before it serves anything, and an adapter refuses options it
 * cannot work with (directories that overlap, a node id of the wrong form) only then:
 * doctor builds it too, so a configuration serve would refuse at start is a problem here.
 */
export function adapterCheck(adapter: AdapterToBuild): Check {
  return {
    name: NAME,
    timeoutMs: 5_000,
    async run() {
      try {
        const built = adapter.build();
        return ok(NAME, `${adapter.label}: the ${built.name} adapter builds with node id ${JSON.stringify(adapter.nodeId)} and its options${built.supportsStaging ? '; it stages volumes' : ''}`);
      } catch (error) {
        return problem(
          NAME,
          `${adapter.label}: the adapter refuses to build, so serve would not start: ${error instanceof Error ? error.message : String(error)}`,
          'correct the adapter option or --node-id it names (docs/adapters.md, "Adapter options")',
        );
      }
    },
  };
}
