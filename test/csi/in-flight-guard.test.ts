import test from 'ava';
import { AbortedError } from '../../src/core/errors.js';
import { InFlightGuard } from '../../src/csi/in-flight-guard.js';

test('InFlightGuard refuses a second operation on a busy key with ABORTED, others run', async (t) => {
  const guard = new InFlightGuard();
  let release!: () => void;
  const first = guard.run('v1', 'NodePublishVolume', () => new Promise<void>((resolve) => (release = resolve)));
  await t.throwsAsync(guard.run('v1', 'NodeUnpublishVolume', async () => undefined), { instanceOf: AbortedError, message: /NodePublishVolume/ });
  t.is(await guard.run('v2', 'NodePublishVolume', async () => 'ok'), 'ok');
  release();
  await first;
  t.is(await guard.run('v1', 'NodeUnpublishVolume', async () => 'free again'), 'free again');
});
