import test from 'ava';
import { ADAPTER_OPTIONS } from '../../src/adapters/registry.js';
import { DEFAULT_SOURCE_SETTINGS } from '../../src/core/source-settings.js';
import { optionsOf, parseCommandLine } from '../../src/settings/command-line.js';
import { PLUGIN_OPTIONS } from '../../src/settings/plugin-options.js';
import { UsageError } from '../../src/settings/option.js';
import { pluginSettings } from '../../src/settings/plugin-settings.js';
import { packageVersion } from '../../src/settings/version.js';
import { hostname } from 'node:os';

const SERVE = optionsOf('serve', PLUGIN_OPTIONS, ADAPTER_OPTIONS);

/** `nixmount serve ARGV` with environment `env`, as the composition root gets it. */
function serveSettings(argv: string[], env: NodeJS.ProcessEnv = {}, refresh = false) {
  return pluginSettings(parseCommandLine(SERVE, argv, env).values as never, refresh);
}

test('defaults: store paths only, substitute only, 90 s wait, 30 s failure memory', (t) => {
  t.deepEqual(serveSettings([]).sources, { ...DEFAULT_SOURCE_SETTINGS, pushTo: undefined });
  t.false(DEFAULT_SOURCE_SETTINGS.policy.allowExpressions);
  t.false(DEFAULT_SOURCE_SETTINGS.policy.allowFlakes);
  t.false(DEFAULT_SOURCE_SETTINGS.policy.allowBuilds);
  t.true(DEFAULT_SOURCE_SETTINGS.realiseWaitMs < 120_000, 'the node answers before kubelet and Nomad give up on a call');
});

test('flags set the policy and the timings', (t) => {
  const { sources } = serveSettings([
    '--allow-sources', 'paths,expressions flake',
    '--flake-prefixes', 'github:acme/, git+https://git.acme.example/',
    '--builds', 'allowed',
    '--realise-wait', '5s',
    '--failure-memory', '1m',
    '--eval-ttl', '0',
    '--push-to', 's3://cache',
  ]);
  t.deepEqual(sources, {
    policy: { allowExpressions: true, allowFlakes: true, flakePrefixes: ['github:acme/', 'git+https://git.acme.example/'], allowBuilds: true },
    realiseWaitMs: 5000,
    failureMemoryMs: 60_000,
    evalTtlMs: 0,
    pushTo: 's3://cache',
  });
});

test('bad values name the flag', (t) => {
  t.throws(() => serveSettings(['--allow-sources', 'paths,scripts']), { message: /--allow-sources: "scripts"/ });
  t.throws(() => serveSettings(['--builds', 'sometimes']), { message: /--builds: "sometimes"/ });
  t.throws(() => serveSettings(['--realise-wait', 'soon']), { message: /--realise-wait/ });
  t.throws(() => serveSettings(['--download-attempts', '0']), { message: /--download-attempts/ });
});

test('Nix refetches unlocked sources on the same schedule, and at once on --refresh', (t) => {
  t.is(serveSettings(['--eval-ttl', '10m']).nix.tarballTtlSec, 600);
  t.is(serveSettings(['--eval-ttl', '10m'], {}, true).nix.tarballTtlSec, 0);
  t.is(serveSettings(['--eval-ttl', '10m']).nix.downloadAttempts, 2);
});

test('node and Nix defaults', (t) => {
  const { settings, nix } = serveSettings([]);
  t.deepEqual(settings, { driverName: 'nixmount.csi.nixos.dev', driverVersion: packageVersion(), nodeId: hostname(), stateDir: '/var/lib/nixmount', viewIdleMs: 15 * 60_000, viewMode: 'auto', mountMaxFile: '/proc/sys/fs/mount-max' });
  t.deepEqual(nix, {
    storeUri: '',
    substituters: undefined,
    trustedPublicKeys: undefined,
    connectTimeoutSec: 5,
    system: undefined,
    stalledDownloadTimeoutSec: 30,
    nixPath: undefined,
    downloadAttempts: 2,
    tarballTtlSec: 600,
    pushSecretKeyFile: undefined,
  });
});

test('variables give the defaults; a flag wins; an empty variable is unset, except an empty list, which means none', (t) => {
  const env = { NIXMOUNT_STATE_DIR: '/srv/state', NIXMOUNT_VIEW_IDLE: '', NIXMOUNT_SUBSTITUTERS: '', NIXMOUNT_CONNECT_TIMEOUT: '1500ms', NIXMOUNT_NODE_ID: 'from-env' };
  const { settings, nix } = serveSettings(['--node-id', 'from-flag'], env);
  t.is(settings.stateDir, '/srv/state');
  t.is(settings.nodeId, 'from-flag');
  t.is(settings.viewIdleMs, 15 * 60_000);
  t.deepEqual(nix.substituters, []);
  t.is(nix.trustedPublicKeys, undefined);
  t.is(nix.connectTimeoutSec, 2);
  t.deepEqual(serveSettings(['--substituters', ''], {}).nix.substituters, []);
  t.deepEqual(serveSettings(['--substituters', 'http://a, http://b'], {}).nix.substituters, ['http://a', 'http://b']);
});

test('a bad variable is named with its flag and its value', (t) => {
  t.throws(() => serveSettings([], { NIXMOUNT_MODE: 'both' }), { message: '--mode (from NIXMOUNT_MODE): "both" is not one of node, controller, monolith' });
  t.throws(() => serveSettings([], { NIXMOUNT_VIEW_IDLE: 'later' }), { message: '--view-idle (from NIXMOUNT_VIEW_IDLE): "later" is not a duration (e.g. 30s, 15m, 0)' });
});

test('a --flake-prefixes entry with dot segments is a usage error naming it, not a prefix that matches nothing', (t) => {
  t.throws(() => serveSettings(['--allow-sources', 'flake', '--flake-prefixes', 'path:/srv/flakes/%2e%2e/']), {
    instanceOf: UsageError,
    message: /^--flake-prefixes: the flake prefix: "path:\/srv\/flakes\/%2e%2e\/" has a "\.\." segment/,
  });
});
