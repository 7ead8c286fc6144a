import test from 'ava';
import { sourceNixSettings, sourceSettings } from '../../src/cli/source-options.js';
import { DEFAULT_SOURCE_SETTINGS } from '../../src/core/source-settings.js';

test('defaults: store paths only, substitute only, 90 s wait, 30 s failure memory', (t) => {
  t.deepEqual(sourceSettings({}), { ...DEFAULT_SOURCE_SETTINGS, pushTo: undefined });
  t.false(DEFAULT_SOURCE_SETTINGS.policy.allowExpressions);
  t.false(DEFAULT_SOURCE_SETTINGS.policy.allowFlakes);
  t.false(DEFAULT_SOURCE_SETTINGS.policy.allowBuilds);
  t.true(DEFAULT_SOURCE_SETTINGS.realiseWaitMs < 120_000, 'the node answers before kubelet and Nomad give up on a call');
});

test('flags set the policy and the timings', (t) => {
  const settings = sourceSettings({
    'allow-sources': 'paths,expressions flake',
    'flake-prefixes': 'github:acme/, git+https://git.acme.example/',
    builds: 'allowed',
    'realise-wait': '5s',
    'failure-memory': '1m',
    'eval-ttl': '0',
    'push-to': 's3://cache',
  });
  t.deepEqual(settings, {
    policy: { allowExpressions: true, allowFlakes: true, flakePrefixes: ['github:acme/', 'git+https://git.acme.example/'], allowBuilds: true },
    realiseWaitMs: 5000,
    failureMemoryMs: 60_000,
    evalTtlMs: 0,
    pushTo: 's3://cache',
  });
});

test('bad values name the flag', (t) => {
  t.throws(() => sourceSettings({ 'allow-sources': 'paths,scripts' }), { message: /--allow-sources: "scripts"/ });
  t.throws(() => sourceSettings({ builds: 'sometimes' }), { message: /--builds: "sometimes"/ });
  t.throws(() => sourceSettings({ 'realise-wait': 'soon' }), { message: /--realise-wait/ });
  t.throws(() => sourceNixSettings({ 'download-attempts': '0' }, DEFAULT_SOURCE_SETTINGS), { message: /--download-attempts/ });
});

test('Nix refetches unlocked sources on the same schedule, and at once on --refresh', (t) => {
  const settings = sourceSettings({ 'eval-ttl': '10m' });
  t.is(sourceNixSettings({}, settings).tarballTtlSec, 600);
  t.is(sourceNixSettings({}, settings, true).tarballTtlSec, 0);
  t.is(sourceNixSettings({}, settings).downloadAttempts, 2);
});
