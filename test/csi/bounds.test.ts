import test from 'ava';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { boundMessage, quote, quoteList } from '../../src/core/quote.js';
import { mountCapability } from '../helpers/csi-client.js';
import { mountsBelow } from '../helpers/mounts.js';
import { startTestPlugin, type TestPlugin } from '../helpers/plugin.js';

const MISSING = (i: number) => `/nix/store/${i.toString(32).padStart(32, '0').replace(/[eotu]/g, 'a')}-absent-${i}`;

function publishRequest(target: string, extra: Record<string, unknown> = {}) {
  return { volume_id: 'v', target_path: target, volume_capability: mountCapability(), readonly: true, ...extra };
}

async function nothingLeft(t: import('ava').ExecutionContext, node: TestPlugin): Promise<void> {
  t.deepEqual(await mountsBelow(node.dir), []);
  t.deepEqual(await readdir(join(node.stateDir, 'volumes')).catch(() => []), []);
  t.deepEqual((await readdir(join(node.dir, 'pods')).catch(() => [])), []);
}

function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

test('quote: short values whole, long ones cut at 256 characters with the elided length; lists at 10 entries', (t) => {
  t.is(quote('abc'), '"abc"');
  t.is(quote('a\0b'), '"a\\u0000b"');
  const big = 'x'.repeat(1 << 20);
  t.is(quote(big), `"${'x'.repeat(256)}…" (1048576 bytes, 1048320 not shown)`);
  t.is(quote('é'.repeat(300)), `"${'é'.repeat(256)}…" (600 bytes, 88 not shown)`);
  t.is(quoteList(['a', 'b']), '"a", "b"');
  t.is(quoteList(Array.from({ length: 25 }, (_, i) => String(i))), `${Array.from({ length: 10 }, (_, i) => `"${i}"`).join(', ')} and 15 more`);
});

test('boundMessage: at most the limit in UTF-8 bytes, the cut marked', (t) => {
  t.is(boundMessage('short', 4096), 'short');
  for (const unit of ['y', 'é', '😀']) {
    const cut = boundMessage(unit.repeat(10_000), 4096);
    t.true(bytes(cut) <= 4096, unit);
    t.regex(cut, /… \(message cut: \d+ bytes, \d+ not shown\)$/);
  }
});

// Finding 11: a 1 MB key made a ~1 MB status message that grpc-js clients never receive;
// the Probe sharing the connection stalled with it until the deadline.
test('a 1 MB volume-context key is INVALID_ARGUMENT naming the limit; a Probe on the same connection is answered too', async (t) => {
  const node = await startTestPlugin(t);
  await mkdir(join(node.dir, 'pods'));
  const big = 'k'.repeat(1 << 20);
  const [publish, probe] = await Promise.all([
    node.client.code('node', 'NodePublishVolume', publishRequest(join(node.dir, 'pods', 't'), { volume_context: { [big]: 'x' } })),
    node.client.call('identity', 'Probe'),
  ]);
  t.is(publish.code, status.INVALID_ARGUMENT);
  t.regex(publish.details, /limit of 1024 bytes per key/);
  t.regex(publish.details, /\(1048576 bytes, 1048320 not shown\)/);
  t.true(bytes(publish.details) < 1024, `${bytes(publish.details)} bytes`);
  t.deepEqual(probe, { ready: { value: true } });
  await nothingLeft(t, node);
});

test('a 1 MB value, a 2 KiB volume id and a 5000-byte target are INVALID_ARGUMENT naming the limit, messages short', async (t) => {
  const node = await startTestPlugin(t);
  await mkdir(join(node.dir, 'pods'));
  const target = join(node.dir, 'pods', 't');
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [publishRequest(target, { volume_context: { paths: 'v'.repeat(1 << 20) } }), /limit of 65536 bytes/],
    [publishRequest(target, { volume_id: 'i'.repeat(2048), volume_context: { paths: MISSING(1) } }), /volume_id: "i{256}…" \(2048 bytes, 1792 not shown\) is longer than the limit of 1024 bytes/],
    [publishRequest(`${target}/${'p/'.repeat(2500)}`, { volume_context: { paths: MISSING(1) } }), /target_path: .* is longer than the limit of 4096 bytes/],
  ];
  for (const [request, message] of cases) {
    const result = await node.client.code('node', 'NodePublishVolume', request);
    t.is(result.code, status.INVALID_ARGUMENT);
    t.regex(result.details, message);
    t.true(bytes(result.details) < 1024, `${bytes(result.details)} bytes`);
  }
  const unpublish = await node.client.code('node', 'NodeUnpublishVolume', { volume_id: 'i'.repeat(2048), target_path: target });
  t.is(unpublish.code, status.INVALID_ARGUMENT);
  t.regex(unpublish.details, /limit of 1024 bytes/);
  await nothingLeft(t, node);
});

test('more than 1000 store paths are INVALID_ARGUMENT naming the limit, before Nix is asked; 10,000 exceed 64 KiB', async (t) => {
  const node = await startTestPlugin(t);
  await mkdir(join(node.dir, 'pods'));
  const target = join(node.dir, 'pods', 't');
  const many = Array.from({ length: 1100 }, (_, i) => MISSING(i)).join('\n');
  const result = await node.client.code('node', 'NodePublishVolume', publishRequest(target, { volume_context: { paths: many } }));
  // Nix asked about missing paths answers FAILED_PRECONDITION; the count is refused first.
  t.is(result.code, status.INVALID_ARGUMENT);
  t.is(result.details, 'paths: 1100 store paths given; the limit is 1000 per volume');
  const split = { paths: Array.from({ length: 550 }, (_, i) => MISSING(i)).join(' '), 'x86_64-linux': Array.from({ length: 550 }, (_, i) => MISSING(i + 550)).join(' ') };
  const total = await node.client.code('node', 'NodePublishVolume', publishRequest(target, { volume_context: split }));
  t.is(total.code, status.INVALID_ARGUMENT);
  t.is(total.details, 'volume_context names 1100 store paths; the limit is 1000 per volume');
  const huge = Array.from({ length: 10_000 }, (_, i) => MISSING(i)).join('\n');
  const tooBig = await node.client.code('node', 'NodePublishVolume', publishRequest(target, { volume_context: { paths: huge } }));
  t.is(tooBig.code, status.INVALID_ARGUMENT);
  t.regex(tooBig.details, /limit of 65536 bytes/);
  await nothingLeft(t, node);
});

test('1000 missing store paths: FAILED_PRECONDITION, and the message stays within 4096 bytes', async (t) => {
  const node = await startTestPlugin(t);
  await mkdir(join(node.dir, 'pods'));
  const paths = Array.from({ length: 1000 }, (_, i) => MISSING(i)).join(' ');
  const result = await node.client.code('node', 'NodePublishVolume', publishRequest(join(node.dir, 'pods', 't'), { volume_context: { paths } }));
  t.is(result.code, status.FAILED_PRECONDITION);
  t.true(bytes(result.details) <= 4096, `${bytes(result.details)} bytes`);
  t.regex(result.details, /absent-/);
  await nothingLeft(t, node);
});
