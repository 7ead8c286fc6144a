import type { ViewMode } from '../core/view-presentation.js';
import type { NixSettings } from '../platform/nix-settings.js';
import type { AdapterToBuild } from './adapter.js';

/** What doctor checks: the node's configuration, read from the same options (and variables) as `serve`. */
export interface DoctorConfig {
  stateDir: string;
  /** The store URI, substituters, trusted keys and connect timeout, as serve hands them to Nix. */
  nix: NixSettings;
  orchestrator: string;
  /** How the command line named the orchestrator (`--orchestrator local`, `--adapter-module ./a.js (swarm)`), for messages. */
  orchestratorLabel: string;
  /** The adapter, built as serve builds it. */
  adapter: AdapterToBuild;
  /**
   * The orchestrator's directory that the plugin's mounts must propagate back from
   * (kubelet's root dir, Nomad's stage_publish_base_dir), with the flag that sets it.
   */
  orchestratorDir?: { path: string; flag: string };
  /** The CSI endpoint, as given (`unix:///csi/csi.sock`). */
  endpoint: string;
  /** The store GC's high watermark, percent of the store's filesystem, when one is set. */
  gcHighPercent?: number;
  /** --push-to and --push-key-file. */
  push?: { pushTo?: string; keyFile?: string };
  /** The running serve's --metrics-address, known with --serve-pid: its push queue is read there. */
  serveMetricsAddress?: string;
  /** --mount-helper. */
  mountHelper: 'auto' | 'off';
  /** --view-mode and --mount-max-file (auto and /proc/sys/fs/mount-max when absent). */
  viewMode?: ViewMode;
  mountMaxFile?: string;
}
