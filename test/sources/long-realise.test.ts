import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { startTestPlugin } from '../helpers/plugin.js';
import { buildCount, counterFile, countedExpression, publishRequest, uniqueSalt } from '../helpers/sources.js';

const MAX_TRIES = 100;
const RETRY_PAUSE_MS = 250;

test('a realise longer than the call deadline goes on; retries join it and the publish then succeeds', async (t) => {
  const node = await startTestPlugin(t, {
    // As in production (90 s against kubelet's 120 s), the node answers before the
    // client's deadline: ABORTED after 300 ms, calls with a 1.5 s deadline, a 4 s build.
    sources: { policy: { allowExpressions: true, allowBuilds: true }, realiseWaitMs: 300 },
  });
  const counter = await counterFile(t);
  const salt = uniqueSalt();
  const expression = countedExpression({ salt, counter, sleep: 4 });
  const target = join(node.dir, 'target');
  const request = publishRequest('vol-slow', target, { expression });

  const seen: Array<{ code: number; details: string }> = [];
  let published = false;
  for (let attempt = 0; attempt < MAX_TRIES && !published; attempt++) {
    try {
      await node.client.call('node', 'NodePublishVolume', request, 1500);
      published = true;
    } catch (error) {
      const e = error as ServiceError;
      seen.push({ code: e.code, details: e.details });
      t.true(e.code === status.DEADLINE_EXCEEDED || e.code === status.ABORTED, `unexpected ${e.code}: ${e.details}`);
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    }
  }
  t.true(published);
  t.true(seen.length >= 2, 'the realise outlasted several calls');
  t.true(
    seen.some((s) => s.code === status.ABORTED && /^still preparing an expression: realising: building 1\/1 derivations; the work continues, retry/.test(s.details)),
    `retries were told the work is under way: ${JSON.stringify(seen.map((s) => s.details))}`,
  );
  t.is(await buildCount(counter), 1, 'the retries joined the one build');
  t.is(await readFile(join(target, 'var/result/greeting'), 'utf8'), `counted ${salt}\n`);
});

test('a client that gives up before the node answers still gets the one realise on a later retry', async (t) => {
  // The node would answer after 1 s; the client waits only 600 ms per call (DEADLINE_EXCEEDED),
  // and its retries meet the per-volume in-flight guard (ABORTED) until the work is done.
  const node = await startTestPlugin(t, { sources: { policy: { allowExpressions: true, allowBuilds: true }, realiseWaitMs: 1000 } });
  const counter = await counterFile(t);
  const expression = countedExpression({ salt: uniqueSalt(), counter, sleep: 3 });
  const request = publishRequest('vol-impatient', join(node.dir, 'target'), { expression });
  const codes = new Set<number>();
  let published = false;
  for (let attempt = 0; attempt < MAX_TRIES && !published; attempt++) {
    try {
      await node.client.call('node', 'NodePublishVolume', request, 600);
      published = true;
    } catch (error) {
      codes.add((error as ServiceError).code);
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
    }
  }
  t.true(published);
  t.deepEqual([...codes].sort(), [status.ABORTED, status.DEADLINE_EXCEEDED].sort());
  t.is(await buildCount(counter), 1);
});
