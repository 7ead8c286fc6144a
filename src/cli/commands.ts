import { ADAPTER_OPTIONS } from '../adapters/registry.js';
import { optionsOf, type CommandOption, type Positionals } from '../settings/command-line.js';
import type { CommandHandler, CommandValues } from '../settings/command-values.js';
import type { CommandName } from '../settings/option.js';
import { PLUGIN_OPTIONS } from '../settings/plugin-options.js';
import { TOOL_OPTIONS } from '../settings/tool-options.js';

export interface CommandSpec {
  name: CommandName;
  summary: string;
  /** The paragraph under the usage line of its --help. */
  about: string;
  options: readonly CommandOption[];
  positionals?: Positionals;
  /** Loaded on demand: the HCL parser alone is ~50 MiB of memory that `serve` must not carry. */
  load(): Promise<CommandHandler<never>>;
}

/**
 * Commands that read their own command line: the two that are not run by a person
 * with flags, and whose arguments belong to someone else — `host-volume` (run by the
 * Nomad client, its input in DHV_* variables) and `own-store` (a wrapper whose `--`
 * hands the rest to another nixmount command). Each answers `--help` itself.
 */
export interface RawCommandSpec {
  name: string;
  summary: string;
  /** A returned argv is run next, as a command line of its own (own-store wraps serve). */
  load(): Promise<(argv: string[]) => Promise<number | void | string[]>>;
}

export const RAW_COMMANDS: readonly RawCommandSpec[] = [
  {
    name: 'host-volume',
    summary: 'Nomad dynamic host volume plugin: fingerprint, create, delete (run by the Nomad client); `host-volume install --plugin-dir DIR` installs it',
    load: async () => (await import('./host-volume.js')).hostVolume,
  },
  {
    name: 'own-store',
    summary: 'say how views reach the store (a NixOS bind of itself included; no mount changes), then run the command after `--`',
    load: async () => (await import('./own-store.js')).ownStore,
  },
];

/** Commands spelt as two words (`nixmount k8s manifests`), by their first word. */
export const COMMAND_GROUPS = [
  { name: 'k8s', summary: 'Kubernetes tools: `k8s manifests` renders the install manifests' },
  { name: 'nomad', summary: 'Nomad tools: `nomad volume` writes a volume spec, `nomad check` checks a jobspec' },
] as const;

/** A command whose handler takes the values its name stands for (checked by the compiler). */
function command<N extends CommandName>(spec: Omit<CommandSpec, 'name' | 'load'> & { name: N; load(): Promise<CommandHandler<CommandValues[N]>> }): CommandSpec {
  return spec as CommandSpec;
}

export const COMMANDS: readonly CommandSpec[] = [
  command({
    name: 'serve',
    summary: 'run the CSI plugin on a unix socket',
    about: 'Runs the CSI plugin (node, controller or both) on a unix socket until SIGTERM or SIGINT; with --metrics-address, also Prometheus metrics over HTTP.',
    options: optionsOf('serve', PLUGIN_OPTIONS, ADAPTER_OPTIONS),
    load: async () => (await import('./serve.js')).serve,
  }),
  command({
    name: 'publish',
    summary: 'mount a closure at --target on this machine',
    about: 'Mounts a closure at --target on this machine, through the same pipeline as the plugin, without an orchestrator. It waits for evaluation and realisation however long they take.',
    options: optionsOf('publish', PLUGIN_OPTIONS),
    load: async () => (await import('./local-volume.js')).publish,
  }),
  command({
    name: 'unpublish',
    summary: 'unmount what publish mounted at --target',
    about: 'Unmounts what `nixmount publish` mounted at --target.',
    options: optionsOf('unpublish', PLUGIN_OPTIONS),
    load: async () => (await import('./local-volume.js')).unpublish,
  }),
  command({
    name: 'gc',
    summary: 'remove views no volume uses (or, with --store-paths, collect the store by its watermarks)',
    about:
      'Removes every view no volume uses, now (the plugin removes them after --view-idle). With --store-paths it leaves views ' +
      'alone and checks the store GC watermarks once instead: when the store\'s filesystem is --store-gc-high percent used or more, ' +
      'Nix\'s GC frees unrooted paths down to --store-gc-low. That takes no state-dir lock, so it runs next to `nixmount serve`.',
    options: optionsOf('gc', PLUGIN_OPTIONS),
    load: async () => (await import('./local-volume.js')).gc,
  }),
  command({
    name: 'doctor',
    summary: 'check this node for what stops volumes from mounting',
    about:
      'Checks this node as `serve` with the same options and variables would use it: Nix, the store, the state dir on the store\'s mount, ' +
      'overlayfs, the propagation of kubelet\'s or Nomad\'s directory, the socket\'s directory, each cache and its key, the cache pushed to (its key, and with --serve-pid its queue), free disk, ' +
      'and the orchestrator\'s version caveat. One line per check (ok, problem with its fix, info); exits 1 if it found a problem. ' +
      'It changes nothing on the node but temp files it removes. The first thing to run when a volume does not mount.',
    options: optionsOf('doctor', PLUGIN_OPTIONS, ADAPTER_OPTIONS),
    load: async () => (await import('./doctor.js')).doctor,
  }),
  command({
    name: 'k8s manifests',
    summary: 'print (or with --out, write) the objects that install nixmount on a cluster',
    about:
      'Prints the objects that install the nixmount node plugin on a cluster (kubectl apply -f -), with --controller also those ' +
      'of the optional controller (StorageClasses, PVCs), with --cache a cluster binary cache and the node plugin wired to it; or with --out DIR writes every file of manifests/ (both ' +
      'kustomization.yaml files, controller/ and the examples) into DIR. No environment variable is read, so the output is reproducible.',
    options: optionsOf('k8s manifests', TOOL_OPTIONS),
    load: async () => (await import('./k8s.js')).manifests,
  }),
  command({
    name: 'nomad volume',
    summary: 'write a volume spec for `nomad volume register`',
    about: 'Writes a volume spec for `nomad volume register`; give exactly one of --paths, --expression, --flake.',
    options: optionsOf('nomad volume', TOOL_OPTIONS),
    load: async () => (await import('./nomad.js')).volume,
  }),
  command({
    name: 'nomad check',
    summary: 'report problems in a jobspec\'s nixmount volumes before submitting it',
    about: 'Reports problems in a jobspec\'s nixmount volumes before it is submitted; exits 1 if it found any.',
    options: optionsOf('nomad check', TOOL_OPTIONS),
    positionals: { usage: 'JOB.nomad.hcl [VOLUME.hcl…]', min: 1 },
    load: async () => (await import('./nomad.js')).check,
  }),
];
