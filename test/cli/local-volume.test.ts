import test from 'ava';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { mountsBelow } from '../helpers/mounts.js';
import { buildFixture } from '../helpers/nix.js';
import { nixmount } from '../helpers/serve-process.js';
import { tempDir } from '../helpers/temp.js';

test('publish, publish again, unpublish and gc at the shell: exit 0 each, saying what happened', async (t) => {
  const fixture = await buildFixture('cli-local-volume');
  const dir = await tempDir(t);
  const target = join(dir, 'mnt');
  // The state directory comes from its variable, the caches from a flag: both reach the pipeline.
  const env = { NIXMOUNT_STATE_DIR: join(dir, 'state') };
  const publish = ['publish', '--target', target, '--paths', fixture.root, '--substituters', ''];

  const first = await nixmount(publish, { env });
  t.is(first.exitCode, 0, first.stderr);
  t.regex(first.stdout, new RegExp(`^${target} published read-only: ${fixture.root} \\(view [0-9a-f]+, built now\\)$`));
  t.true((await readdir(join(target, 'store'))).includes(fixture.root.slice('/nix/store/'.length)));

  const again = await nixmount(publish, { env });
  t.is(again.exitCode, 0, again.stderr);
  t.regex(again.stdout, /was already published: .* reused\)$/);

  const unpublished = await nixmount(['unpublish', '--target', target], { env });
  t.is(unpublished.exitCode, 0, unpublished.stderr);
  t.is(unpublished.stdout, `${target} unpublished`);
  // What stays until the view is collected: its bind farm (a read-only volume's view), in the state dir alone.
  t.deepEqual((await mountsBelow(dir)).filter((point) => !point.startsWith(`${join(dir, 'state', 'views')}/`)), []);

  const gc = await nixmount(['gc'], { env });
  t.is(gc.exitCode, 0, gc.stderr);
  t.regex(gc.stdout, /^removed 1 unused view\(s\): [0-9a-f]+$/);
  t.deepEqual(await mountsBelow(dir), [], 'the view\'s collection took its bind farm');
});
