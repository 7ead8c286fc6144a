import test from 'ava';
import { parseMountInfo } from '../../src/platform/mountinfo.js';

test('mountinfo lines are parsed, octal escapes decoded', (t) => {
  const text = [
    '36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
    '42 27 254:0 /v/nix /tmp/t ro,nosuid,nodev,relatime - ext4 /dev/vda rw',
  ].join('\n');
  const [first, second] = parseMountInfo(text);
  t.is(first?.mountPoint, '/mnt/with space');
  t.is(first?.fsType, 'ext3');
  t.deepEqual(second?.options, ['ro', 'nosuid', 'nodev', 'relatime']);
  t.is(second?.root, '/v/nix');
});
