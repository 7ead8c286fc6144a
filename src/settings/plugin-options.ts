import { hostname } from 'node:os';
import { ADAPTER_NAMES } from '../adapters/registry.js';
import { PLUGIN_MODES } from '../plugin-services.js';
import { parseListenAddress } from './listen-address.js';
import { VIEW_MODES } from '../core/view-presentation.js';
import { choiceList, count, duration, flag, list, oneOf, percent, text, texts, ValueError } from './option.js';
import { isSingleBinary, NO_ADAPTER_MODULES } from './single-binary.js';

export const DEFAULT_DRIVER_NAME = 'nixmount.csi.nixos.dev';

const NODE = ['serve', 'publish', 'unpublish', 'gc'] as const;
const REALISING = ['serve', 'publish'] as const;
const LOCAL = ['publish', 'unpublish'] as const;
/** What `doctor` checks is the node's configuration: these options are read as serve reads them. */
const CHECKED = [...NODE, 'doctor'] as const;

/** Checked with the other flags, so a typo is a usage error naming the flag, not a failed start; empty is off. */
function checkedListenAddress(value: string): string {
  if (value !== '') parseListenAddress(value);
  return value;
}

/** pino's levels. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The plugin's options: `serve` and the local commands (publish, unpublish, gc)
 * that run the same pipeline. Sections "source policy" and "Nix and binary caches"
 * are the README's tables of the same names, checked by test/cli/readme-reference.test.ts.
 */
export const PLUGIN_OPTIONS = {
  endpoint: text({
    flag: 'endpoint', env: 'CSI_ENDPOINT', default: 'unix:///csi/csi.sock', arg: 'URL',
    help: 'unix socket the CSI services listen on', commands: ['serve', 'doctor'], section: 'plugin',
  }),
  mode: oneOf({
    flag: 'mode', env: 'NIXMOUNT_MODE', default: 'node', choices: PLUGIN_MODES,
    help: 'which CSI services to run: node, controller, or both (monolith)', commands: ['serve'], section: 'plugin',
  }),
  orchestrator: oneOf({
    flag: 'orchestrator', env: 'NIXMOUNT_ORCHESTRATOR', default: 'local', choices: ADAPTER_NAMES,
    help: 'who calls the plugin, which decides the paths it accepts and the volume context it reads', commands: ['serve', 'doctor'], section: 'plugin',
  }),
  metricsAddress: {
    ...text({
      flag: 'metrics-address', env: 'NIXMOUNT_METRICS_ADDRESS', defaultHelp: 'off', arg: 'HOST:PORT',
      help: 'serve Prometheus metrics at http://HOST:PORT/metrics; :PORT listens on every interface', commands: ['serve'], section: 'plugin',
    }),
    parse: checkedListenAddress,
  },
  adapterModule: {
    ...text({
      flag: 'adapter-module', env: 'NIXMOUNT_ADAPTER_MODULE', arg: 'MODULE', defaultHelp: 'none (the --orchestrator)',
      help: isSingleBinary()
        ? 'not in this single binary, which cannot load adapter modules: use the npm package or the image (docs/adapters.md)'
        : 'serve another orchestrator through an adapter module (a path or a package name; docs/adapters.md); replaces --orchestrator',
      commands: ['serve', 'doctor'], section: 'plugin',
    }),
    // Refused with the other flags, before anything starts, rather than failing at the import.
    parse: (value: string): string => {
      if (isSingleBinary()) throw new ValueError(NO_ADAPTER_MODULES);
      return value;
    },
  },
  adapterOption: texts({
    flag: 'adapter-option', arg: 'NAME=VALUE',
    help:
      'an option of the adapter (repeatable), also read from NIXMOUNT_ADAPTER_<NAME> (upper case, - as _); the adapter declares which it takes: ' +
      'the built-in ones are listed in their sections below (also as flags), a module\'s in its `options` (its docs); a name it does not declare is refused with the names it takes',
    commands: ['serve', 'doctor'], section: 'plugin',
  }),
  kubernetesEvents: flag({
    flag: 'kubernetes-events',
    help: 'with --orchestrator kubernetes, post Events on the pods whose volumes this node publishes (needs the RBAC of manifests/events; see docs/operations.md)',
    commands: ['serve'], section: 'plugin',
  }),

  nodeId: text({
    flag: 'node-id', env: 'NIXMOUNT_NODE_ID', default: () => hostname(), defaultHelp: 'the host name', arg: 'ID',
    help: 'this node\'s id as the orchestrator knows it', commands: CHECKED, section: 'node',
  }),
  stateDir: text({
    flag: 'state-dir', env: 'NIXMOUNT_STATE_DIR', default: '/var/lib/nixmount', arg: 'DIR',
    help: 'views and records; on the same filesystem as /nix/store', commands: CHECKED, section: 'node',
  }),
  driverName: text({
    flag: 'driver-name', env: 'NIXMOUNT_DRIVER_NAME', default: DEFAULT_DRIVER_NAME, arg: 'NAME',
    help: 'CSI driver name reported to the orchestrator', commands: NODE, section: 'node',
  }),
  store: text({
    flag: 'store', env: 'NIXMOUNT_STORE', defaultHelp: 'Nix\'s default store', arg: 'URI',
    help: 'Nix store URI given to every Nix command (e.g. local?root=/srv/nix)', commands: CHECKED, section: 'node',
  }),
  system: text({
    flag: 'system', env: 'NIXMOUNT_SYSTEM', defaultHelp: 'asked from Nix', arg: 'SYSTEM',
    help: 'the node\'s Nix system, e.g. x86_64-linux', commands: NODE, section: 'node',
  }),
  viewIdle: duration({
    flag: 'view-idle', env: 'NIXMOUNT_VIEW_IDLE', default: '15m',
    help: 'a view no volume uses is removed after this long; 0 removes it at once', commands: NODE, section: 'node',
  }),
  mountHelper: oneOf({
    flag: 'mount-helper', env: 'NIXMOUNT_MOUNT_HELPER', default: 'auto', choices: ['auto', 'off'],
    help: 'auto: read-only binds and unmounts are system calls made by one long-lived helper (perl, from perl-base) when the node has perl; ' +
      'off: util-linux mount and umount are spawned for each (slower)',
    commands: CHECKED, section: 'node',
  }),
  viewMode: oneOf({
    flag: 'view-mode', env: 'NIXMOUNT_VIEW_MODE', default: 'auto', choices: VIEW_MODES,
    help: 'how a read-only volume\'s view presents its closure — auto: a bind farm (one read-only bind per store path) when it fits the mount budget ' +
      '(fs.mount-max less 5 % headroom, against the mounts present), else hardlinks, and hardlinks where the farm cannot be built; ' +
      'bind-farm: the same, but a farm that cannot be built fails the publish; hardlink: always hardlinks. Read-write volumes always get hardlinks (an overlayfs lower does not reach into mounts)',
    commands: CHECKED, section: 'node',
  }),
  mountMaxFile: text({
    flag: 'mount-max-file', env: 'NIXMOUNT_MOUNT_MAX_FILE', default: '/proc/sys/fs/mount-max', arg: 'PATH',
    help: 'where the mount budget reads fs.mount-max, the mounts one namespace may hold', commands: CHECKED, section: 'node',
  }),
  logLevel: oneOf({
    flag: 'log-level', env: 'NIXMOUNT_LOG_LEVEL', choices: LOG_LEVELS, defaultHelp: 'info (serve), warn (publish, unpublish, gc)',
    help: 'least severe level logged (to stderr)', commands: NODE, section: 'node',
  }),

  allowSources: choiceList({
    flag: 'allow-sources', env: 'NIXMOUNT_ALLOW_SOURCES', default: 'paths',
    choices: ['paths', 'expression', 'flake'], aliases: { expressions: 'expression', flakes: 'flake', path: 'paths' },
    help: 'sources a volume may name; store paths and <system> keys are always accepted', commands: REALISING, section: 'source policy',
  }),
  flakePrefixes: list({
    flag: 'flake-prefixes', env: 'NIXMOUNT_FLAKE_PREFIXES', defaultHelp: 'none (any ref)', arg: 'PREFIXES',
    help: 'a flakeRef must start with one of these', commands: REALISING, section: 'source policy',
  }),
  builds: oneOf({
    flag: 'builds', env: 'NIXMOUNT_BUILDS', default: 'never', choices: ['never', 'allowed'],
    help: 'never: only substitute from caches; allowed: the node may run builders', commands: REALISING, section: 'source policy',
  }),

  substituters: list({
    flag: 'substituters', env: 'NIXMOUNT_SUBSTITUTERS', defaultHelp: 'the node\'s nix.conf', arg: 'URLS',
    help: 'binary caches to substitute from; empty means none', commands: CHECKED, section: 'Nix and binary caches',
  }),
  trustedPublicKeys: list({
    flag: 'trusted-public-keys', env: 'NIXMOUNT_TRUSTED_PUBLIC_KEYS', defaultHelp: 'the node\'s nix.conf', arg: 'KEYS',
    help: 'keys whose signatures are accepted', commands: CHECKED, section: 'Nix and binary caches',
  }),
  connectTimeout: duration({
    flag: 'connect-timeout', env: 'NIXMOUNT_CONNECT_TIMEOUT', default: '5s',
    help: 'per connection to a cache (whole seconds, at least 1)', commands: CHECKED, section: 'Nix and binary caches',
  }),
  stalledDownloadTimeout: duration({
    flag: 'stalled-download-timeout', env: 'NIXMOUNT_STALLED_DOWNLOAD_TIMEOUT', default: '30s',
    help: 'a download receiving nothing this long is abandoned', commands: REALISING, section: 'Nix and binary caches',
  }),
  downloadAttempts: count({
    flag: 'download-attempts', env: 'NIXMOUNT_DOWNLOAD_ATTEMPTS', default: '2',
    help: 'tries per download', commands: REALISING, section: 'Nix and binary caches',
  }),
  pushTo: text({
    flag: 'push-to', env: 'NIXMOUNT_PUSH_TO', defaultHelp: 'none', arg: 'URI',
    help: 'store URI to copy what the node built or fetched to', commands: [...REALISING, 'doctor'], section: 'Nix and binary caches',
  }),
  pushKeyFile: text({
    flag: 'push-key-file', env: 'NIXMOUNT_PUSH_KEY_FILE', defaultHelp: 'none', arg: 'FILE',
    help: 'secret key signing what is pushed', commands: [...REALISING, 'doctor'], section: 'Nix and binary caches',
  }),
  nixPath: text({
    flag: 'nix-path', env: 'NIXMOUNT_NIX_PATH', defaultHelp: 'the environment\'s NIX_PATH', arg: 'PATH',
    help: 'lookup path for <…> in expressions', commands: REALISING, section: 'Nix and binary caches',
  }),

  realiseWait: duration({
    flag: 'realise-wait', env: 'NIXMOUNT_REALISE_WAIT', default: '90s',
    help: 'a call waits this long for a realisation, then answers ABORTED while the work goes on (publish always waits)',
    commands: REALISING, section: 'realisation',
  }),
  failureMemory: duration({
    flag: 'failure-memory', env: 'NIXMOUNT_FAILURE_MEMORY', default: '30s',
    help: 'a failed evaluation or realisation is answered from memory this long', commands: REALISING, section: 'realisation',
  }),
  evalTtl: duration({
    flag: 'eval-ttl', env: 'NIXMOUNT_EVAL_TTL', default: '10m',
    help: 'expressions and unlocked flakes are evaluated again after this long', commands: REALISING, section: 'realisation',
  }),

  storeGcHigh: percent({
    flag: 'store-gc-high', env: 'NIXMOUNT_STORE_GC_HIGH', defaultHelp: 'off',
    help: 'collect the store when the filesystem holding it is this percent used or more (with --store-gc-low)', commands: ['serve', 'gc', 'doctor'], section: 'store GC',
  }),
  storeGcLow: percent({
    flag: 'store-gc-low', env: 'NIXMOUNT_STORE_GC_LOW', defaultHelp: 'off',
    help: 'a collection frees unrooted store paths until the filesystem is this percent used', commands: ['serve', 'gc'], section: 'store GC',
  }),
  storeGcInterval: duration({
    flag: 'store-gc-interval', env: 'NIXMOUNT_STORE_GC_INTERVAL', default: '5m',
    help: 'how often the watermarks are checked (also after each realise)', commands: ['serve'], section: 'store GC',
  }),
  storeGcTimeout: duration({
    flag: 'store-gc-timeout', env: 'NIXMOUNT_STORE_GC_TIMEOUT', default: '30m',
    help: 'a collection running longer is killed, counted as timed out and tried again at the next check', commands: ['serve', 'gc'], section: 'store GC',
  }),
  storePaths: flag({
    flag: 'store-paths', help: 'collect unrooted store paths by the watermarks once, instead of views (runs next to a serving plugin)',
    commands: ['gc'], section: 'store GC',
  }),

  target: text({ flag: 'target', arg: 'DIR', required: true, help: 'directory to mount the closure at', commands: LOCAL, section: 'volume' }),
  paths: text({ flag: 'paths', arg: 'PATHS', help: 'store paths to mount (space separated)', commands: ['publish'], section: 'volume' }),
  context: texts({
    flag: 'context', arg: 'KEY=VALUE', help: 'a volume context entry, as an orchestrator would pass it (repeatable)', commands: ['publish'], section: 'volume',
  }),
  readWrite: flag({ flag: 'read-write', help: 'mount writable (an overlay over the view)', commands: ['publish'], section: 'volume' }),
  volumeId: text({ flag: 'volume-id', arg: 'ID', defaultHelp: 'derived from --target', help: 'volume id recorded for the mount', commands: LOCAL, section: 'volume' }),
  refresh: flag({ flag: 'refresh', help: 'evaluate again now and refetch unlocked sources', commands: ['publish'], section: 'volume' }),

  json: flag({ flag: 'json', help: 'print the checks as a JSON array of {check, status, message, fix}', commands: ['doctor'], section: 'doctor' }),
  servePid: text({
    flag: 'serve-pid', arg: 'PID',
    help: 'check the options of the running `nixmount serve` with this process id (its command line and environment) instead of doctor\'s own',
    commands: ['doctor'], section: 'doctor',
  }),
} as const;

export type PluginOptions = typeof PLUGIN_OPTIONS;
