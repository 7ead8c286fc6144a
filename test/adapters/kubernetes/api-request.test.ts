import test from 'ava';
import { apiRequest, ApiError } from '../../../src/adapters/kubernetes/api/api-request.js';
import { inClusterApiServer } from '../../../src/adapters/kubernetes/api/in-cluster.js';
import { FakeApiServer } from '../../helpers/fake-api-server.js';

function event(message: string) {
  return {
    apiVersion: 'v1', kind: 'Event', metadata: { name: 'web-0.1', namespace: 'shop' },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'web-0', namespace: 'shop' },
    reason: 'VolumePublished', message, type: 'Normal', source: { component: 'nixmount', host: 'worker-1' },
    reportingComponent: 'nixmount', reportingInstance: 'worker-1',
    firstTimestamp: '2026-11-23T22:00:00Z', lastTimestamp: '2026-11-23T22:00:00Z', count: 1,
  };
}

test('a created Event comes back whole (its 1 KiB message and all): the answer is read, not refused for its length', async (t) => {
  const api = await FakeApiServer.start(t);
  const server = await inClusterApiServer(api.env, api.serviceAccountDir);
  const answer = await apiRequest(server, { method: 'POST', path: '/api/v1/namespaces/shop/events', body: event('m'.repeat(1024)) });
  t.true(answer.length > 1024);
  t.is(JSON.parse(answer).message, 'm'.repeat(1024));
});

test('an answer beyond the call\'s bound is refused by its length, even when it arrived whole in one read', async (t) => {
  const api = await FakeApiServer.start(t);
  api.pods.set('shop/web-0', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-0', namespace: 'shop', annotations: { big: 'a'.repeat(5000) } } });
  const server = await inClusterApiServer(api.env, api.serviceAccountDir);
  const error = await t.throwsAsync(apiRequest(server, { method: 'GET', path: '/api/v1/namespaces/shop/pods/web-0', maxBytes: 2048 }), { instanceOf: ApiError });
  t.is(error!.message, 'GET /api/v1/namespaces/shop/pods/web-0: the answer is longer than 2048 bytes');
  const whole = await apiRequest(server, { method: 'GET', path: '/api/v1/namespaces/shop/pods/web-0', maxBytes: 8192 });
  t.is(JSON.parse(whole).metadata.annotations.big.length, 5000);
});

test('a refusal is an ApiError with the status and the API server\'s own message', async (t) => {
  const api = await FakeApiServer.start(t);
  const server = await inClusterApiServer(api.env, api.serviceAccountDir);
  const error = await t.throwsAsync(apiRequest(server, { method: 'POST', path: '/api/v1/namespaces/other/events', body: event('m') }), { instanceOf: ApiError });
  t.is(error!.status, 422);
  t.is(error!.message, 'POST /api/v1/namespaces/other/events: 422 Event is invalid: metadata.namespace does not match the request namespace');
});
