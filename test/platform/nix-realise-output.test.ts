import test from 'ava';
import type { RealiseEvent } from '../../src/core/ports/nix-store.js';
import { RealiseOutput } from '../../src/platform/nix-realise-output.js';

test('progress events, problems and the build log are told apart', (t) => {
  const events: RealiseEvent[] = [];
  const output = new RealiseOutput((event) => events.push(event));
  for (const line of [
    'these 2 derivations will be built:',
    '  /nix/store/aaaa-x.drv',
    'these 7 paths will be fetched (12.50 MiB download, 40.00 MiB unpacked):',
    '  /nix/store/bbbb-y',
    "copying path '/nix/store/bbbb-y' from 'http://127.0.0.1:9'...",
    "building '/nix/store/aaaa-x.drv'...",
    'compiling...',
    "warning: error: unable to download 'http://127.0.0.1:9/nix-cache-info': Couldn't connect to server (7); retrying in 336 ms",
    "warning: unable to download 'http://127.0.0.1:9/nix-cache-info': Couldn't connect to server (7)",
    "warning: you did not specify '--add-root'; the result might be removed by the garbage collector",
    "error: builder for '/nix/store/aaaa-x.drv' failed with exit code 3",
  ]) output.line(line);
  t.deepEqual(events, [
    { kind: 'plan', fetch: 0, build: 2 },
    { kind: 'plan', fetch: 7, build: 0, downloadMiB: 12.5 },
    { kind: 'fetching', path: '/nix/store/bbbb-y', from: 'http://127.0.0.1:9' },
    { kind: 'building', derivation: '/nix/store/aaaa-x.drv' },
    { kind: 'log', line: 'compiling...' },
  ]);
  t.deepEqual(output.problems, ["unable to download 'http://127.0.0.1:9/nix-cache-info': Couldn't connect to server (7)"]);
  t.deepEqual(output.buildLog, ['compiling...']);
  t.is(output.failedDerivation, '/nix/store/aaaa-x.drv');
  t.false(output.buildNotAllowed);
});

test('a build refused by --max-jobs 0 is recognised', (t) => {
  const output = new RealiseOutput();
  output.line("error: unable to start any build; either increase '--max-jobs' or enable remote builds.");
  t.true(output.buildNotAllowed);
  t.deepEqual(output.problems, []);
});
