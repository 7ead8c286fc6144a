import test from 'ava';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/platform/pino-logger.js';

test('secrets never reach the logs, wherever they sit in a logged request', (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = createLogger({ level: 'info', destination: sink }).child({ method: 'NodePublishVolume' });
  log.info({ secrets: { token: 'hunter2' }, request: { secrets: { key: 'sesame' }, volume_id: 'v' } }, 'publishing');
  const text = lines.join('');
  t.notRegex(text, /hunter2|sesame/);
  t.regex(text, /"volume_id":"v"/);
  t.regex(text, /\[redacted\]/);
});
