import test from 'ava';
import { execa } from 'execa';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBindFarm, farmMounts, unmountBindFarm } from '../../src/platform/bind-farm.js';
import { ExecaProcessRunner } from '../../src/platform/execa-process-runner.js';
import { MountHelper } from '../../src/platform/mount-helper.js';
import { parseMountInfo, readMountInfo } from '../../src/platform/mountinfo.js';
import { silentLogger } from '../helpers/fakes.js';
import { unmountBelow } from '../helpers/mounts.js';
import { tempDir } from '../helpers/temp.js';

// A bind farm below a view directory, without a plugin: the helper's batch calls, real
// mounts, and which mounts below a view are proven the farm's. Serial: real mounts.

const VIEW = '/state/views/.building-k';
const line = (id: number, root: string, point: string, device = '254:0') => `${id} 1 ${device} ${root} ${point} ro,nosuid,nodev - ext4 /dev/vda rw`;

test('ownership from the table: a bind of <name> from the marker\'s store at <view>/nix/store/<name>, and the view\'s own store directory; anything else is foreign', (t) => {
  const entries = parseMountInfo(
    [
      line(1, '/', '/'),
      line(2, `${VIEW}/nix/store`, `${VIEW}/nix/store`),
      line(3, '/nix/store/aaa-app', `${VIEW}/nix/store/aaa-app`),
      line(4, '/nix/store/bbb-lib', `${VIEW}/nix/store/ccc-other`), // another path than its name
      line(5, '/nix/store/ddd-x', `${VIEW}/nix/store/ddd-x`, '0:55'), // another filesystem
      line(6, '/', `${VIEW}/nix/store/eee-tmp`, '0:56'),
      line(7, '/nix/store/fff-y', `${VIEW}/nix/var/fff-y`), // not in the farm's directory
      line(8, '/nix/store/ggg-z', '/elsewhere/nix/store/ggg-z'), // not below the view
    ].join('\n'),
  );
  const { own, foreign } = farmMounts(entries, VIEW, '/nix/store');
  t.deepEqual(own.map((entry) => entry.id), [2, 3]);
  t.deepEqual(foreign.map((entry) => entry.id), [4, 5, 6, 7]);
  t.deepEqual(farmMounts(entries, VIEW, undefined).own, [], 'without a readable marker nothing is proven');
});

test.serial('a farm is one private read-only bind of the store directory and one read-only bind per path, made and undone in batches; writes fail', async (t) => {
  const dir = await tempDir(t);
  t.teardown(() => unmountBelow(dir));
  const helper = new MountHelper(new ExecaProcessRunner(silentLogger), silentLogger, { helper: 'auto' });
  t.teardown(() => helper.close());
  const store = join(dir, 'store');
  const view = join(dir, 'views', '.building-k');
  await mkdir(join(view, 'nix/store'), { recursive: true });
  const paths: string[] = [];
  for (let i = 0; i < 300; i++) {
    const path = join(store, `${String(i).padStart(32, '0')}-p${i}`);
    await mkdir(path, { recursive: true });
    await writeFile(join(path, 'file'), `${i}\n`);
    paths.push(path);
  }
  const single = join(store, `${'1'.repeat(32)}-single-file`);
  await writeFile(single, 'one file\n');
  paths.push(single);
  await buildBindFarm(helper, view, paths);
  const below = (await readMountInfo()).filter((entry) => entry.mountPoint.startsWith(`${view}/`));
  t.is(below.length, paths.length + 1);
  t.true(below.every((entry) => ['ro', 'nosuid', 'nodev'].every((flag) => entry.options.includes(flag))));
  t.deepEqual(below.find((entry) => entry.mountPoint === join(view, 'nix/store'))?.optionalFields, [], 'the store directory is a private mount');
  t.is(await readFile(join(view, 'nix/store', `${'1'.repeat(32)}-single-file`), 'utf8'), 'one file\n');
  t.regex((await execa('touch', [join(view, 'nix/store', 'new')], { reject: false })).stderr, /Read-only file system/);
  t.regex((await execa('touch', [join(view, 'nix/store', `${'0'.repeat(32)}-p0`, 'new')], { reject: false })).stderr, /Read-only file system/);
  await unmountBindFarm(helper, view);
  t.deepEqual((await readMountInfo()).filter((entry) => entry.mountPoint.startsWith(`${view}/`)), []);
});
