import test from 'ava';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { assertStorePath } from '../../src/core/store-path.js';
import { assertContextBounds, parseUserContext } from '../../src/core/volume-context.js';

const GOOD = '/nix/store/0c0f3a2vqvh1xsnjjz7m1ipyjv2qkx3x-hello-2.12';

test('paths: whitespace and newline separated store paths', (t) => {
  const spec = parseUserContext({ paths: `${GOOD}\n  /nix/store/1ax9hfd8lvwclzjs9qhsbdkwsk5cknaa-lib \t` });
  t.deepEqual(spec.storePaths, [GOOD, '/nix/store/1ax9hfd8lvwclzjs9qhsbdkwsk5cknaa-lib']);
});

test('system keys, expression and flakeRef are read', (t) => {
  const spec = parseUserContext({ 'x86_64-linux': GOOD, expression: '{}: 1', flakeRef: ' path:/x#y ' });
  t.deepEqual(spec.systemPaths, { 'x86_64-linux': [GOOD] });
  t.is(spec.expression, '{}: 1');
  t.is(spec.flakeRef, 'path:/x#y');
});

const BAD: Array<[string, Record<string, string>, RegExp]> = [
  ['outside the store', { paths: '/usr/bin/env' }, /paths: "\/usr\/bin\/env" is not under \/nix\/store/],
  ['a .. path', { paths: '/nix/store/../etc/shadow' }, /contains "\.\."/],
  ['a path inside a store path', { paths: `${GOOD}/bin/hello` }, /points inside a store path/],
  ['a malformed name', { paths: '/nix/store/not-a-hash' }, /not a well-formed store path/],
  ['a hash with letters outside nix base32', { paths: '/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x' }, /not a well-formed/],
  ['an unknown key', { paths: GOOD, pahts: GOOD }, /unknown volume context key "pahts"/],
  ['nothing named', {}, /names no closure/],
  ['an empty paths value', { paths: '  ' }, /paths: no store path given/],
];

for (const [name, context, message] of BAD) {
  test(`invalid: ${name}`, (t) => {
    t.throws(() => parseUserContext(context), { instanceOf: InvalidArgumentError, message });
  });
}

test('assertStorePath accepts real-looking names with dots, plus and underscores', (t) => {
  t.is(assertStorePath('/nix/store/0c0f3a2vqvh1xsnjjz7m1ipyjv2qkx3x-python3.11-foo_bar+x', 'k'), '/nix/store/0c0f3a2vqvh1xsnjjz7m1ipyjv2qkx3x-python3.11-foo_bar+x');
});

// Finding 11: limits on what a volume context may carry, named in the message, input quoted bounded.
test('a key over 1 KiB, a context over 64 KiB and more than 1000 store paths are INVALID_ARGUMENT naming the limit', (t) => {
  const key = 'k'.repeat(2000);
  const longKey = t.throws(() => assertContextBounds({ [key]: 'x' }), { instanceOf: InvalidArgumentError });
  t.is(longKey!.message, `volume_context: the key "${'k'.repeat(256)}…" (2000 bytes, 1744 not shown) is longer than the limit of 1024 bytes per key`);
  t.throws(() => parseUserContext({ paths: GOOD, expression: 'x'.repeat(70_000) }), { instanceOf: InvalidArgumentError, message: /limit of 65536 bytes \(reached at the key "expression"\)/ });
  t.notThrows(() => assertContextBounds({ ['k'.repeat(1024)]: 'v'.repeat(60_000) }));
  const many = Array.from({ length: 1001 }, () => GOOD).join(' ');
  t.throws(() => parseUserContext({ paths: many }), { instanceOf: InvalidArgumentError, message: 'paths: 1001 store paths given; the limit is 1000 per volume' });
  t.is(parseUserContext({ paths: Array.from({ length: 1000 }, () => GOOD).join(' ') }).storePaths.length, 1000);
});

test('a bad store path is quoted bounded: a 60 KB value never makes a 60 KB message', (t) => {
  const error = t.throws(() => parseUserContext({ paths: `/nix/store/${'a'.repeat(60_000)}` }), { instanceOf: InvalidArgumentError });
  t.true(error!.message.length < 400, `${error!.message.length}`);
  t.regex(error!.message, /\(60011 bytes, 59755 not shown\) is not a well-formed store path/);
  const key = t.throws(() => parseUserContext({ paths: GOOD, ['z'.repeat(1000)]: 'x' }), { instanceOf: InvalidArgumentError });
  t.regex(key!.message, /^unknown volume context key "z{256}…" \(1000 bytes, 744 not shown\)/);
});
