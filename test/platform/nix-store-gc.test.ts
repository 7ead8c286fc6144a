import test from 'ava';
import { parseGcSummary } from '../../src/platform/nix-store-gc.js';

test('what Nix says it freed, in bytes; nothing when it printed no summary', (t) => {
  t.deepEqual(parseGcSummary("deleting '/nix/store/x-f1'\n2 store paths deleted, 40.00 MiB freed\n"), { pathsDeleted: 2, bytesFreed: 40 * 2 ** 20 });
  t.deepEqual(parseGcSummary('1 store path deleted, 0.50 KiB freed'), { pathsDeleted: 1, bytesFreed: 512 });
  t.deepEqual(parseGcSummary('3 store paths deleted, 1.25 GiB freed'), { pathsDeleted: 3, bytesFreed: 1.25 * 2 ** 30 });
  t.deepEqual(parseGcSummary('finding garbage collector roots...\ndeleting garbage...\n'), { pathsDeleted: 0, bytesFreed: 0 });
});
