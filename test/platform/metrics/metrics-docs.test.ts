import test from 'ava';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { registerNodeGauges } from '../../../src/platform/metrics/node-gauges.js';
import { NodeMetrics, registerBuildInfo } from '../../../src/platform/metrics/node-metrics.js';
import { RecordingLogger } from '../../helpers/recording-logger.js';

// docs/operations.md "Metrics" lists every nixmount_ metric the plugin can serve, with its
// type and labels, and nothing else: the table cannot drift from the code.

const OPERATIONS = fileURLToPath(new URL('../../../../docs/operations.md', import.meta.url));

test('the "Metrics" table lists exactly the registered nixmount_ metrics, with their types and labels', async (t) => {
  const registry = new Registry();
  new NodeMetrics(registry);
  registerBuildInfo(registry, { version: 'v', driver: 'd', orchestrator: 'o', mode: 'node' });
  registerNodeGauges(registry, { orchestrator: 'o', volumes: () => [], stagedVolumes: () => 0, views: async () => [], realisationPhases: () => [], storeDir: '/' }, new RecordingLogger());
  const registered = Object.fromEntries(
    registry.getMetricsAsArray().map((metric) => [metric.name, { type: String(metric.type), labels: [...((metric as { labelNames?: string[] }).labelNames ?? [])].sort() }]),
  );

  const text = await readFile(OPERATIONS, 'utf8');
  const section = text.slice(text.indexOf('\n## Metrics\n'), text.indexOf('\n## ', text.indexOf('\n## Metrics\n') + 1));
  const documented = Object.fromEntries(
    [...section.matchAll(/^\| `(nixmount_\w+)` \| (\w+)(?:, read)? \|([^|]*)\|/gm)].map((row) => [
      row[1]!,
      { type: row[2]!, labels: [...row[3]!.matchAll(/`(\w+)`/g)].map((label) => label[1]!).sort() },
    ]),
  );
  t.deepEqual(documented, registered);
});
