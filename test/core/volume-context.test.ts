import test from 'ava';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { assertStorePath } from '../../src/core/store-path.js';
import { parseUserContext } from '../../src/core/volume-context.js';

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
