import test from 'ava';
import fc from 'fast-check';
import { posix } from 'node:path';
import { InvalidArgumentError, PermissionDeniedError } from '../../src/core/errors.js';
import { parseFlakePrefix, parseFlakeRef } from '../../src/core/flake-ref.js';
import { checkSourcePolicy, DEFAULT_SOURCE_SETTINGS, type SourcePolicy } from '../../src/core/source-settings.js';
import { emptySpec } from '../../src/core/volume-spec.js';
import { parseUserContext } from '../../src/core/volume-context.js';
import { fuzzParameters } from '../helpers/fuzz-arbitraries.js';

function policy(flakePrefixes: string[]): SourcePolicy {
  return { ...DEFAULT_SOURCE_SETTINGS.policy, allowFlakes: true, flakePrefixes };
}

/** 'ok', 'denied' (PERMISSION_DENIED) or 'invalid' (INVALID_ARGUMENT): what the policy answers for `ref`. */
function verdict(ref: string, prefixes: string[]): 'ok' | 'denied' | 'invalid' {
  try {
    checkSourcePolicy({ ...emptySpec(), flakeRef: ref }, policy(prefixes));
    return 'ok';
  } catch (error) {
    if (error instanceof PermissionDeniedError) return 'denied';
    if (error instanceof InvalidArgumentError) return 'invalid';
    throw error;
  }
}

const TABLE: Array<[string, string[], string, 'ok' | 'denied' | 'invalid']> = [
  ['below a path prefix', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed/tools#default', 'ok'],
  ['the prefix itself', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed#default', 'ok'],
  ['doubled slashes', ['path:/srv/F/allowed/'], 'path:/srv//F/allowed/tools', 'ok'],
  ['a bare absolute path is a path: ref', ['path:/srv/F/allowed/'], '/srv/F/allowed/tools#x', 'ok'],
  ['..', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed/../evil#default', 'invalid'],
  ['.. at the end', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed/..', 'invalid'],
  ['.', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed/./x', 'invalid'],
  ['%2e%2e', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed/%2e%2e/evil', 'invalid'],
  ['%2E%2E', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed/%2E%2E/evil', 'invalid'],
  ['.%2e', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed/.%2e/evil', 'invalid'],
  ['double-encoded dots', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed/%252e%252e/evil', 'invalid'],
  ['an encoded slash', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed/..%2fevil', 'invalid'],
  ['an encoded backslash', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed/x%5c..', 'invalid'],
  ['a backslash', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed/..\\evil', 'invalid'],
  ['a stray %', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed/100%', 'invalid'],
  ['dir=.. walks out of the fetched tree', ['path:/srv/F/allowed/'], 'path:/srv/F/allowed/x?dir=../../evil', 'invalid'],
  ['dir=%2e%2e', ['github:acme/'], 'github:acme/tools?dir=%2e%2e', 'invalid'],
  ['a sibling sharing the text prefix', ['path:/srv/F/allowed'], 'path:/srv/F/allowed-evil#default', 'denied'],
  ['another scheme', ['path:/srv/F/allowed/'], 'git+file:///srv/F/allowed/x', 'denied'],
  ['github below the org', ['github:acme/'], 'github:acme/tools#hello', 'ok'],
  ['github with dots', ['github:acme/'], 'github:acme/../evil/tools', 'invalid'],
  ['github org sharing the text prefix', ['github:acme'], 'github:acme-evil/tools', 'denied'],
  ['github from another host', ['github:acme/'], 'github:acme/tools?host=evil.example', 'denied'],
  ['github from the prefix\'s host', ['github:acme/?host=git.acme.example'], 'github:acme/tools?host=GIT.acme.example', 'ok'],
  ['git+https below the host', ['git+https://git.acme.example/'], 'git+https://git.acme.example/org/repo?ref=main', 'ok'],
  ['git+https host sharing the text prefix', ['git+https://git.acme.example'], 'git+https://git.acme.example.evil.net/x', 'denied'],
  ['git+https with dots', ['git+https://git.acme.example/org/'], 'git+https://git.acme.example/org/../other/repo', 'invalid'],
  ['git+https with a user', ['git+https://git.acme.example/'], 'git+https://git.acme.example@evil.net/x', 'invalid'],
  ['a registry name', ['github:acme/'], 'nixpkgs#hello', 'denied'],
  ['an option', ['github:acme/'], '--impure', 'invalid'],
  ['no prefixes: any clean ref', [], 'github:someone/else#x', 'ok'],
];

for (const [name, prefixes, ref, expected] of TABLE) {
  test(`flake prefixes: ${name}`, (t) => {
    t.is(verdict(ref, prefixes), expected, ref);
  });
}

test('dot segments are refused when the volume context is read, naming the key and the reason', (t) => {
  t.throws(() => parseUserContext({ flakeRef: 'path:/srv/a/%2E%2E/b#x' }), {
    instanceOf: InvalidArgumentError,
    message: /^flakeRef: "path:\/srv\/a\/%2E%2E\/b#x" has a "\.\." segment in its path \(spelled out or percent-encoded\)/,
  });
});

test('a prefix that could never be compared safely is refused by name', (t) => {
  t.throws(() => parseFlakePrefix('path:/srv/../x'), { instanceOf: InvalidArgumentError, message: /^the flake prefix: "path:\/srv\/\.\.\/x" has a "\.\." segment/ });
});

// Path segments built from the characters every dot-segment trick is spelled with.
const SEGMENT_PARTS = ['.', '..', '%2e', '%2E', '%2f', '%5c', '%25', '%', 'a', 'b', 'allowed', '\\', ''];
const segmentArb = fc.array(fc.constantFrom(...SEGMENT_PARTS), { minLength: 1, maxLength: 4 }).map((parts) => parts.join(''));
const suffixArb = fc.array(segmentArb, { minLength: 0, maxLength: 5 }).map((segments) => segments.join('/'));

test('fuzz: a path: ref the policy accepts resolves, decoded as Nix and as a URL reader would, inside the prefix', (t) => {
  const root = '/srv/F/allowed';
  fc.assert(
    fc.property(suffixArb, fc.constantFrom('', '?dir=', '#'), segmentArb, (suffix, tail, extra) => {
      const ref = `path:${root}/${suffix}${tail}${tail === '' ? '' : extra}`;
      if (verdict(ref, [`path:${root}/`]) !== 'ok') return true;
      const path = ref.slice('path:'.length).split(/[?#]/)[0]!;
      // Decode as often as any reader might (a dir= is joined below the path, as Nix does), then resolve dots and backslashes as the most lenient one does.
      let decoded = path;
      for (let round = 0; round < 3; round++) decoded = decoded.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      const resolved = posix.resolve(decoded.replace(/\\/g, '/'));
      const dir = new URLSearchParams(ref.split('?')[1]?.split('#')[0] ?? '').get('dir');
      const inside = (p: string) => p === root || p.startsWith(`${root}/`);
      return inside(resolved) && (dir === null || inside(posix.resolve(resolved, `./${dir.replace(/\\/g, '/')}`)));
    }),
    fuzzParameters(2000),
  );
  t.pass();
});

test('fuzz: every spelling of a dot segment is refused, whatever surrounds it', (t) => {
  const dots = fc.constantFrom('.', '..', '%2e', '%2E', '%2e%2e', '%2E%2e', '.%2e', '%2e.', '%2E.');
  fc.assert(
    fc.property(fc.constantFrom('path:/srv/x', 'github:acme', 'git+https://h.example/org', '/srv/x'), fc.array(fc.constantFrom('a', 'tools', 'b-c'), { maxLength: 3 }), dots, (base, after, dot) => {
      const ref = [base, dot, ...after].join('/') + '#default';
      t.throws(() => parseFlakeRef(ref), { instanceOf: InvalidArgumentError });
    }),
    fuzzParameters(300),
  );
});
