import test from 'ava';
import { storePathName } from '../../src/platform/store-path-name.js';

const HASH = '0c3ab7qhn0pfbnxp6hlmgw8hxdwcrcj8';

// As `nix-instantiate --eval -E 'builtins.parseDrvName "…"'` splits them.
test('name and version split as builtins.parseDrvName splits them', (t) => {
  const cases: [string, { name: string; version?: string }][] = [
    ['hello-2.12.1', { name: 'hello', version: '2.12.1' }],
    ['glibc-2.39-52', { name: 'glibc', version: '2.39-52' }],
    ['glibc-2.39-52-bin', { name: 'glibc', version: '2.39-52-bin' }], // an output's suffix stays in the version
    ['python3.12-requests-2.32.3', { name: 'python3.12-requests', version: '2.32.3' }],
    ['gcc-wrapper-13.2.0', { name: 'gcc-wrapper', version: '13.2.0' }],
    ['libxml2-2.12.7-dev', { name: 'libxml2', version: '2.12.7-dev' }],
    ['nss-cacert-3.101', { name: 'nss-cacert', version: '3.101' }],
    ['font-x-_unstable', { name: 'font-x', version: '_unstable' }], // anything but a letter starts the version
    ['bash-interactive-5.2p32', { name: 'bash-interactive', version: '5.2p32' }],
    ['source', { name: 'source' }],
    ['hello-world', { name: 'hello-world' }],
    ['trailing-', { name: 'trailing-' }],
    ['-1.0', { name: '-1.0' }], // a name of only a version keeps it: a component needs a name
    ['x-1', { name: 'x', version: '1' }],
    ['ca-certificates.crt', { name: 'ca-certificates.crt' }],
    ['hello-2.12.1.tar.gz', { name: 'hello', version: '2.12.1.tar.gz' }],
    ['ümlaut-1.0', { name: 'ümlaut', version: '1.0' }],
    ['a-ä1', { name: 'a', version: 'ä1' }], // only ASCII letters count as letters, as in Nix's C locale
  ];
  for (const [base, expected] of cases) {
    t.deepEqual(storePathName(`/nix/store/${HASH}-${base}`), { ...expected, derivation: false }, base);
  }
});

test('a derivation is named without its .drv and marked as one', (t) => {
  t.deepEqual(storePathName(`/nix/store/${HASH}-hello-2.12.1.drv`), { name: 'hello', version: '2.12.1', derivation: true });
  t.deepEqual(storePathName(`/nix/store/${HASH}-source.drv`), { name: 'source', derivation: true });
  t.deepEqual(storePathName(`/nix/store/${HASH}-.drv`), { name: '.drv', derivation: false }, 'nothing before .drv: no derivation name to take');
});

test('only a real hash part is taken off; another store dir works the same', (t) => {
  t.deepEqual(storePathName(`/other/store/${HASH}-hello-2.12.1`), { name: 'hello', version: '2.12.1', derivation: false });
  // 32 characters with an `e` (not in Nix's base-32): no hash part, the whole name is kept.
  const notHash = 'e'.repeat(32);
  t.deepEqual(storePathName(`/nix/store/${notHash}-hello-2.12.1`), { name: `${notHash}-hello`, version: '2.12.1', derivation: false });
});
