import test from 'ava';
import { nixHashToHex } from '../../src/platform/nix-hash.js';

// Vectors from Nix itself: `nix hash to-base16` / `nix hash file --type … --base32 / --sri / --base16`.
const NAR = 'f764679faab7eac6b17e0938dcb2f76fe73fff5c9afe3fd4c64340ab38e807ac';

test('a narHash in each form Nix writes it is the same hex digest', (t) => {
  for (const form of [
    'sha256-92Rnn6q36saxfgk43LL3b+c//1ya/j/UxkNAqzjoB6w=', // SRI, path-info of Nix 2.4 and later
    'sha256:1b07x0wanh23qva3zzlsbkzkzrvgyyrdqf09gsqwdsmpmagnfr7p', // Nix base-32, older path-info
    `sha256:${NAR}`,
    `sha256:${NAR.toUpperCase()}`,
    'sha256:92Rnn6q36saxfgk43LL3b+c//1ya/j/UxkNAqzjoB6w=',
  ]) {
    t.deepEqual(nixHashToHex(form), { algorithm: 'sha256', hex: NAR }, form);
  }
});

test('the other algorithms Nix hashes with', (t) => {
  const sha1 = '24177a857616aa2dff60f7b09497b4d07467fcf8';
  t.deepEqual(nixHashToHex('sha1:z3y6fx6hnjbr9c7pc3zjvahnfs2pl5r4'), { algorithm: 'sha1', hex: sha1 });
  t.deepEqual(nixHashToHex('sha1-JBd6hXYWqi3/YPewlJe00HRn/Pg='), { algorithm: 'sha1', hex: sha1 });
  const sha512 = 'af67b2ec3ee2be5e9411792b56111a63e945ce42c99a8a8ff9322822b800bc20407fe9b8af845be47e63483f47c92b47c13ad73a4d07c7df8da00d44a00e88cf';
  t.deepEqual(nixHashToHex('sha512:37qh3m08h6s13fzqw3lsfnp7b0lfay98wzlhqvywidq9bxqx5zl085w02w24a1jz67qm6n98b74bsb3388mcavr26a5xgp27vnb4rxg'), { algorithm: 'sha512', hex: sha512 });
  t.deepEqual(nixHashToHex('sha512-r2ey7D7ivl6UEXkrVhEaY+lFzkLJmoqP+TIoIrgAvCBAf+m4r4Rb5H5jSD9HyStHwTrXOk0Hx9+NoA1EoA6Izw=='), { algorithm: 'sha512', hex: sha512 });
  t.deepEqual(nixHashToHex('md5:6kwrpg63ff745dsfkv01536bsy'), { algorithm: 'md5', hex: '5e2f334a007b3add0a39ce0df36ee6d3' });
});

test('base-32 is read from its last character, and the bit past a sha256 digest must be zero', (t) => {
  // `nix hash to-base32` of 00…01 and of 80 00…00.
  t.is(nixHashToHex(`sha256:008${'0'.repeat(49)}`)?.hex, `${'00'.repeat(31)}01`);
  t.is(nixHashToHex(`sha256:${'0'.repeat(50)}40`)?.hex, `80${'00'.repeat(31)}`);
  t.is(nixHashToHex(`sha256:1${'0'.repeat(51)}`)?.hex, `${'00'.repeat(31)}80`, 'bit 255, the last one a sha256 has');
  t.is(nixHashToHex(`sha256:2${'0'.repeat(51)}`), undefined, 'bit 256 does not exist');
});

test('what is no hash Nix writes is refused, not guessed', (t) => {
  for (const bad of [
    '',
    'sha256',
    'sha256:',
    'sha256-',
    'sha384:abcd', // not an algorithm Nix uses
    `SHA256:${NAR}`,
    `sha256:${NAR.slice(1)}`, // one character short
    `sha256:${NAR}00`,
    'sha256:1b07x0wanh23qva3zzlsbkzkzrvgyyrdqf09gsqwdsmpmagnfr7e', // `e` is not in Nix's base-32
    'sha256:1b07x0wanh23qva3zzlsbkzkzrvgyyrdqf09gsqwdsmpmagnfr7P',
    `sha256:${'g'.repeat(64)}`, // base-16 length, not base-16
    'sha256-92Rnn6q36saxfgk43LL3b+c//1ya/j/UxkNAqzjoB6w', // SRI without its padding
    'sha256-92Rnn6q36saxfgk43LL3b-c__1ya_j_UxkNAqzjoB6w=', // the URL-safe alphabet
    'sha256-92Rnn6q36saxfgk43LL3b+c//1ya/j/UxkNAqzjoB6w=\n',
    'sha1-92Rnn6q36saxfgk43LL3b+c//1ya/j/UxkNAqzjoB6w=', // a sha256's length under sha1
  ]) {
    t.is(nixHashToHex(bad), undefined, JSON.stringify(bad));
  }
});
