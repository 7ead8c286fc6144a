import test from 'ava';
import { ADAPTER_OPTIONS } from '../../src/adapters/registry.js';
import { optionsOf, parseCommandLine } from '../../src/settings/command-line.js';
import { UsageError } from '../../src/settings/option.js';
import { PLUGIN_OPTIONS } from '../../src/settings/plugin-options.js';
import { storeGcSettings } from '../../src/settings/plugin-settings.js';

const SERVE = optionsOf('serve', PLUGIN_OPTIONS, ADAPTER_OPTIONS);
const GC = optionsOf('gc', PLUGIN_OPTIONS);

function serve(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return storeGcSettings(parseCommandLine(SERVE, argv, env).values as never);
}

test('off by default, checked every 5 minutes and bounded to 30 minutes once on', (t) => {
  t.deepEqual(serve([]), { intervalMs: 300_000, timeoutMs: 1_800_000 });
  t.deepEqual(serve(['--store-gc-high', '85', '--store-gc-low', '75%', '--store-gc-interval', '30s', '--store-gc-timeout', '10m']), {
    highPercent: 85, lowPercent: 75, intervalMs: 30_000, timeoutMs: 600_000,
  });
  t.deepEqual(serve([], { NIXMOUNT_STORE_GC_HIGH: '90', NIXMOUNT_STORE_GC_LOW: '80' }), { highPercent: 90, lowPercent: 80, intervalMs: 300_000, timeoutMs: 1_800_000 });
});

test('watermarks go together, low below high, each a whole percentage', (t) => {
  t.throws(() => serve(['--store-gc-high', '85']), { instanceOf: UsageError, message: /--store-gc-high and --store-gc-low go together/ });
  t.throws(() => serve(['--store-gc-low', '75']), { instanceOf: UsageError, message: /go together/ });
  t.throws(() => serve(['--store-gc-high', '75', '--store-gc-low', '75']), { instanceOf: UsageError, message: '--store-gc-low (75) must be below --store-gc-high (75)' });
  t.throws(() => serve(['--store-gc-high', '101', '--store-gc-low', '75']), { instanceOf: UsageError, message: '--store-gc-high: "101" is not a percentage (a whole number from 0 to 100)' });
  t.throws(() => serve(['--store-gc-high', '85.5', '--store-gc-low', '75']), { instanceOf: UsageError, message: /is not a percentage/ });
});

test('gc takes the watermarks, the timeout and --store-paths; not the interval', (t) => {
  const flags = GC.map(([, spec]) => spec.flag);
  for (const flag of ['store-gc-high', 'store-gc-low', 'store-gc-timeout', 'store-paths']) t.true(flags.includes(flag), flag);
  t.false(flags.includes('store-gc-interval'));
  const values = parseCommandLine(GC, ['--store-paths', '--store-gc-high', '50', '--store-gc-low', '40'], {}).values as { storePaths: boolean };
  t.true(values.storePaths);
});
