import test from 'ava';
import { nixErrorSummary } from '../../src/platform/nix-error-summary.js';

test('the first error line and its position, without the quoted source', (t) => {
  const stderr = [
    "error: syntax error, unexpected ';'",
    '',
    '       at «string»:1:40:',
    '',
    '            1| { }: derivation { name = "x"; system = ; }',
    '             |                                        ^',
    "(use '--show-trace' to show detailed location information)",
  ].join('\n');
  t.is(nixErrorSummary(stderr), "error: syntax error, unexpected ';' (at «string»:1:40)");
});

test('trace lines, warnings and the rest of a multi-line message stay out', (t) => {
  const stderr = ['warning: unknown setting', 'trace: root:x:0:0:SECRET', 'error: first', '       SECRET second', '       at /x.nix:3:1:'].join('\n');
  t.is(nixErrorSummary(stderr), 'error: first (at /x.nix:3:1)');
});

test('colours are dropped, a long line is cut, and no error line says so', (t) => {
  t.is(nixErrorSummary('\u001b[31;1merror:\u001b[0m bad'), 'error: bad');
  t.true(Buffer.byteLength(nixErrorSummary(`error: ${'x'.repeat(5000)}`)) <= 400);
  t.is(nixErrorSummary('Killed\n'), 'Nix gave no error line');
});
