import test from 'ava';
import { mkdir, readdir, realpath, rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeSettings } from '../../src/core/settings.js';
import { FsVolumeDirs } from '../../src/platform/fs-volume-dirs.js';
import { tempDir } from '../helpers/temp.js';

// An unpublish holds its target's parent and must prove it is the directory the path led to
// when it was checked: a directory on the path swapped for a symlink at any moment after the
// check (here, before the hold) is refused as ABORTED, nothing held, so the retry is checked again.

async function lane(t: Parameters<typeof tempDir>[0]) {
  const dir = await realpath(await tempDir(t));
  const dirs = new FsVolumeDirs({ stateDir: join(dir, 'state') } as unknown as NodeSettings);
  const volumeDir = join(dir, 'kubelet', 'vol');
  const outside = join(dir, 'outside');
  await mkdir(join(volumeDir, 'mount'), { recursive: true });
  await mkdir(join(outside, 'mount'), { recursive: true });
  return { dirs, volumeDir, outside, target: join(volumeDir, 'mount') };
}

test('holdExisting: the parent the check saw is held, and the target is named through it', async (t) => {
  const { dirs, volumeDir, target } = await lane(t);
  const held = await dirs.holdExisting(target, volumeDir);
  t.truthy(held);
  t.regex(held!.path, /^\/proc\/\d+\/fd\/\d+\/mount$/);
  // A swap after the hold moves nothing the held path names: the rmdir removes the directory checked.
  await rename(volumeDir, `${volumeDir}.orig`);
  await dirs.removeTarget(held!.path);
  held!.release();
  t.deepEqual(await readdir(`${volumeDir}.orig`), []);
});

test('holdExisting: a parent swapped for a symlink between the check and the hold is ABORTED, whatever the path leads to now', async (t) => {
  const { dirs, volumeDir, outside, target } = await lane(t);
  const checkedAt = await realpath(volumeDir);
  await rename(volumeDir, `${volumeDir}.orig`);
  await symlink(outside, volumeDir);
  const error = await t.throwsAsync(dirs.holdExisting(target, checkedAt));
  t.is((error as { kind?: string }).kind, 'Aborted', error?.message);
  t.deepEqual(await readdir(outside), ['mount'], 'nothing outside touched');
});

test('holdExisting: a parent that is gone holds nothing (nothing can be mounted there)', async (t) => {
  const { dirs, volumeDir, target } = await lane(t);
  t.is(await dirs.holdExisting(join(volumeDir, 'gone', 'mount')), undefined);
  const held = await dirs.holdExisting(target);
  t.truthy(held);
  held?.release();
});
