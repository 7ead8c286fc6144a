import { realpath } from 'node:fs/promises';
import { mountContaining, readMountInfo, type MountEntry } from '../platform/mountinfo.js';
import { ok, problem, reason, type Check } from './check.js';

const NAME = 'propagation';
const TIMEOUT_MS = 5_000;

/** The mount's propagation in findmnt's words: shared, slave (master:N), private, unbindable. */
export function propagationOf(entry: MountEntry): { shared: boolean; said: string } {
  const fields = entry.optionalFields;
  const shared = fields.find((field) => field.startsWith('shared:'));
  if (shared) return { shared: true, said: `shared (${shared})` };
  const master = fields.find((field) => field.startsWith('master:'));
  if (master) return { shared: false, said: `slave (${master}): mounts reach it from the host, but not the other way` };
  if (fields.includes('unbindable')) return { shared: false, said: 'unbindable' };
  return { shared: false, said: 'private' };
}

function fixFor(orchestrator: string, dir: string, flag: string): string {
  if (orchestrator === 'kubernetes') {
    return `mount kubelet's directory into the plugin's container at ${dir} with mountPropagation: Bidirectional (privileged), ` +
      `and on the host keep it on a shared mount (findmnt -o TARGET,PROPAGATION ${dir}; \`mount --make-rshared /\` if the host's / is private); ${flag} must be kubelet's --root-dir`;
  }
  if (orchestrator === 'nomad') {
    return `${flag} must be the csi_plugin's stage_publish_base_dir on a shared mount: the docker driver mounts it shared for a csi_plugin task; ` +
      `for raw_exec make it one on the host (mount --bind ${dir} ${dir} && mount --make-shared ${dir})`;
  }
  // An adapter module's own orchestrator: only what holds for every one.
  return `${flag} must name the directory the orchestrator takes its mounts from, on a shared mount in the plugin's namespace and the host's ` +
    `(mount --bind ${dir} ${dir} && mount --make-shared ${dir}, or the orchestrator's own propagation setting)`;
}

/**
 * The plugin mounts volumes into kubelet's (or Nomad's) directory from its own mount
 * namespace; only a shared mount carries them back to the host, where the workload's
 * container is made. A private or slave mount here makes every publish succeed while
 * the workload sees an empty directory.
 */
export function propagationCheck(orchestrator: string, dir: { path: string; flag: string } | undefined, label = `--orchestrator ${orchestrator}`): Check {
  return {
    name: NAME,
    timeoutMs: TIMEOUT_MS,
    async run() {
      if (dir === undefined) return ok(NAME, `${label}: volumes are mounted where they are used, in this mount namespace; nothing has to propagate`);
      let real: string;
      try {
        real = await realpath(dir.path);
      } catch (error) {
        return problem(NAME, `${dir.path} (${dir.flag}) cannot be resolved (${reason(error)})`, fixFor(orchestrator, dir.path, dir.flag));
      }
      const entry = mountContaining(await readMountInfo(), real);
      if (!entry) return problem(NAME, `no mount holds ${real} in /proc/self/mountinfo`, fixFor(orchestrator, dir.path, dir.flag));
      const { shared, said } = propagationOf(entry);
      const what = `${dir.path} (${dir.flag}${real === dir.path ? '' : `, really ${real}`}) is on the mount at ${entry.mountPoint}, whose propagation is ${said}`;
      if (shared) return ok(NAME, `${what}: volumes mounted there reach the workloads`);
      return problem(NAME, `${what}: volumes mounted there never reach the workloads`, fixFor(orchestrator, dir.path, dir.flag));
    },
  };
}
