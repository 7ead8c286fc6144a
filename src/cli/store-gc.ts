import { LocalAdapter } from '../adapters/local/local-adapter.js';
import { composeNode } from '../composition-root.js';
import type { StoreGcResult } from '../core/store-gc.js';
import { usedPercent } from '../core/store-watermarks.js';
import { createLogger } from '../platform/pino-logger.js';
import { defaultValues, optionsOf } from '../settings/command-line.js';
import type { GcValues } from '../settings/command-values.js';
import { UsageError } from '../settings/option.js';
import { PLUGIN_OPTIONS } from '../settings/plugin-options.js';
import { pluginSettings, storeGcSettings, type PipelineValues } from '../settings/plugin-settings.js';

const MIB = 2 ** 20;

/**
 * `nixmount gc --store-paths`: one check of the store GC watermarks, collecting if due.
 * It takes no state-dir lock and recovers nothing: Nix's GC honours the views' roots
 * by itself and serialises collections with its own lock, so this runs next to a
 * serving plugin (`kubectl exec … -- nixmount gc --store-paths`).
 */
export async function gcStore(values: GcValues): Promise<number> {
  const storeGc = storeGcSettings(values);
  if (storeGc.highPercent === undefined) {
    throw new UsageError('--store-paths collects by the watermarks: give --store-gc-high and --store-gc-low (or NIXMOUNT_STORE_GC_HIGH/LOW)');
  }
  const all = { ...(defaultValues(optionsOf('publish', PLUGIN_OPTIONS)) as PipelineValues), ...values };
  const { settings, nix, sources, mounts } = pluginSettings(all);
  const logger = createLogger({ level: values.logLevel ?? 'warn' });
  const node = composeNode({ settings, nix, sources, storeGc, mounts, adapter: new LocalAdapter(settings.nodeId), logger });
  const result = await node.storeGc.check('command');
  console.log(describe(result, storeGc.highPercent, storeGc.lowPercent!));
  return result.action === 'unreadable' || (result.action === 'collected' && result.outcome !== 'ok') ? 1 : 0;
}

function describe(result: StoreGcResult, high: number, low: number): string {
  const percent = (value: number) => `${value.toFixed(1)}%`;
  switch (result.action) {
    case 'disabled':
      return 'store GC is off';
    case 'unreadable':
      return `could not read the store filesystem's usage: ${String(result.error)}`;
    case 'below-high':
    case 'deferred':
      return `store filesystem ${percent(result.usedPercent)} used, below the high watermark ${high}%: nothing collected`;
    case 'collected': {
      const after = result.after ? `, now ${percent(usedPercent(result.after))} used` : '';
      const what = `${result.pathsDeleted} store path(s) deleted, ${(result.bytesFreed / MIB).toFixed(1)} MiB freed in ${result.seconds.toFixed(1)} s`;
      if (result.outcome !== 'ok') return `store GC ${result.outcome === 'timeout' ? 'timed out' : 'failed'} (${what}): ${result.error instanceof Error ? result.error.message : String(result.error)}`;
      return `store filesystem was ${percent(usedPercent(result.before))} used (high ${high}%, low ${low}%): ${what}${after}`;
    }
  }
}
