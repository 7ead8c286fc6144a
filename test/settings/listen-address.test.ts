import test from 'ava';
import { parseListenAddress } from '../../src/settings/listen-address.js';
import { nixmount } from '../helpers/serve-process.js';

test('listen addresses: :PORT is every interface, HOST:PORT and [IPv6]:PORT name one', (t) => {
  t.deepEqual(parseListenAddress(':9810'), { port: 9810 });
  t.deepEqual(parseListenAddress('127.0.0.1:9810'), { host: '127.0.0.1', port: 9810 });
  t.deepEqual(parseListenAddress('localhost:0'), { host: 'localhost', port: 0 });
  t.deepEqual(parseListenAddress('[::1]:9810'), { host: '::1', port: 9810 });
  t.deepEqual(parseListenAddress('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
  for (const bad of ['9810', ':', ':65536', '::1:9810', 'host:port', 'http://h:1', ' :1 x']) {
    t.throws(() => parseListenAddress(bad), { message: `"${bad}" is not :PORT or HOST:PORT (e.g. :9810, 127.0.0.1:9810, [::1]:9810)` }, bad);
  }
});

test('serve refuses a bad --metrics-address (or NIXMOUNT_METRICS_ADDRESS) before starting, with exit status 2', async (t) => {
  const flag = await nixmount(['serve', '--metrics-address', '9810']);
  t.is(flag.exitCode, 2);
  t.regex(flag.stderr, /--metrics-address: "9810" is not :PORT or HOST:PORT/);
  const env = await nixmount(['serve'], { env: { NIXMOUNT_METRICS_ADDRESS: 'x:y' } });
  t.is(env.exitCode, 2);
  t.regex(env.stderr, /"x:y" is not :PORT or HOST:PORT/);
});
