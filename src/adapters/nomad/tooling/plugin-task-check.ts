import type { JobTask } from './jobspec.js';

/** Nomad's stage_publish_base_dir when the csi_plugin block has none (Nomad >= 1.3.3). */
const DEFAULT_STAGE_PUBLISH_BASE_DIR = '/local/csi';

/** `--flag value` or `--flag=value` in an args list. */
function flagValue(args: string[], flag: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${flag}`) return args[i + 1];
    if (args[i]!.startsWith(`--${flag}=`)) return args[i]!.slice(flag.length + 3);
  }
  return undefined;
}

/**
 * Problems in a task that serves nixmount as a Nomad CSI node plugin (facts from Nomad's
 * plugin supervisor and volume manager): Nomad tells the plugin staging and target paths
 * below stage_publish_base_dir, as the task sees them, and gives it CSI_ENDPOINT.
 * Under docker that directory is a bind of the client's `<data_dir>/client/csi/<type>/<id>`;
 * raw_exec has no filesystem isolation, so nothing is bound and the base dir must be that
 * host directory itself (and CSI_ENDPOINT names the socket's host path).
 */
export function checkPluginTask(task: JobTask, pluginId: string): string[] {
  const plugin = task.csiPlugin;
  if (!plugin || plugin.id !== pluginId || (plugin.type !== 'node' && plugin.type !== 'monolith')) return [];
  const messages: string[] = [];
  const config = task.config;
  const args = Array.isArray(config.args) ? (config.args as unknown[]).filter((a): a is string => typeof a === 'string') : [];
  const base = plugin.stagePublishBaseDir ?? DEFAULT_STAGE_PUBLISH_BASE_DIR;
  if (!args.includes('serve')) messages.push('config args do not run `serve`');
  const flagBase = flagValue(args, 'stage-publish-base-dir');
  if (flagBase !== base) {
    messages.push(`--stage-publish-base-dir is ${flagBase === undefined ? 'missing' : `"${flagBase}"`}, but csi_plugin stage_publish_base_dir is "${base}": the plugin would refuse every path Nomad sends`);
  }
  if (flagValue(args, 'orchestrator') !== 'nomad') messages.push('--orchestrator nomad is missing');
  if (flagValue(args, 'endpoint') !== undefined) messages.push('--endpoint is set: Nomad gives the socket in CSI_ENDPOINT, and a different path would never be found');
  const stateDir = flagValue(args, 'state-dir');
  if (stateDir !== undefined && !stateDir.startsWith('/nix/')) messages.push(`--state-dir "${stateDir}" is outside /nix: views are hardlinks into /nix/store`);
  switch (task.driver) {
    case 'docker':
    case 'podman':
      if (config.privileged !== true) messages.push(`driver "${task.driver}" without privileged = true: the plugin cannot mount`);
      break;
    case 'raw_exec': {
      const command = typeof config.command === 'string' ? config.command : undefined;
      if (!command?.startsWith('/')) messages.push('raw_exec command must be an absolute path on the client (e.g. /usr/local/bin/nixmount)');
      if (base.startsWith('/local/') || !base.endsWith(`/csi/${plugin.type}/${pluginId}`)) {
        messages.push(
          `raw_exec has no filesystem isolation, so stage_publish_base_dir must be the client's own directory for this plugin, ` +
            `<data_dir>/client/csi/${plugin.type}/${pluginId} (e.g. /opt/nomad/data/client/csi/${plugin.type}/${pluginId}), not "${base}"`,
        );
      }
      break;
    }
    default:
      messages.push(`driver "${task.driver ?? '(none)'}": nixmount needs to mount as root in a namespace whose mounts reach the host; use docker (privileged) or raw_exec`);
  }
  return messages;
}
