import test from 'ava';
import { problem, type Check } from '../../src/doctor/check.js';
import { diskUsage } from '../../src/doctor/disk-space.js';
import { nixVersion } from '../../src/doctor/nix.js';
import { ORCHESTRATORS, parseVersion } from '../../src/doctor/orchestrator.js';
import { overlayListed } from '../../src/doctor/overlayfs.js';
import { propagationOf } from '../../src/doctor/propagation.js';
import { formatLine, formatReport, runChecks } from '../../src/doctor/run-checks.js';
import { parseEnviron, serveArguments } from '../../src/doctor/serve-process.js';
import { keyName, signers } from '../../src/doctor/substituters.js';
import { parseMountInfo } from '../../src/platform/mountinfo.js';

// The pure parts of `nixmount doctor`; test/doctor/doctor.test.ts puts a real node in each failing state.

const mount = (optional: string) => parseMountInfo(`36 35 98:0 / /var/lib/kubelet rw,noatime ${optional}${optional ? ' ' : ''}- ext4 /dev/sda1 rw`)[0]!;

test('propagation is read from the optional fields of mountinfo, shared winning over a master', (t) => {
  t.deepEqual(mount('shared:7').optionalFields, ['shared:7']);
  t.deepEqual(mount('').optionalFields, []);
  t.deepEqual(propagationOf(mount('shared:7')), { shared: true, said: 'shared (shared:7)' });
  t.deepEqual(propagationOf(mount('shared:7 master:2')), { shared: true, said: 'shared (shared:7)' });
  t.deepEqual(propagationOf(mount('master:2')), { shared: false, said: 'slave (master:2): mounts reach it from the host, but not the other way' });
  t.deepEqual(propagationOf(mount('unbindable')), { shared: false, said: 'unbindable' });
  t.deepEqual(propagationOf(mount('')), { shared: false, said: 'private' });
});

test('overlay is found in /proc/filesystems only as a filesystem of its own', (t) => {
  t.true(overlayListed('nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n'));
  t.false(overlayListed('nodev\tsysfs\n\text4\nnodev\toverlayfs-not\n'));
  t.false(overlayListed(''));
});

test('the Nix version is read from `nix --version`', (t) => {
  t.deepEqual(nixVersion('nix (Nix) 2.8.0'), [2, 8]);
  t.deepEqual(nixVersion('nix (Nix) 2.24.10'), [2, 24]);
  t.is(nixVersion('command not found'), undefined);
});

test('disk usage counts as the store GC does: reserved blocks are not free, percentages round up', (t) => {
  // 1000 blocks, 100 free of which 50 are reserved for root: 950 of 1000 not available.
  t.deepEqual(diskUsage({ blocks: 1000, bfree: 100, bavail: 50, bsize: 4096, files: 100, ffree: 4 }), {
    usedPercent: 95,
    freeBytes: 50 * 4096,
    inodesUsedPercent: 96,
  });
  t.is(diskUsage({ blocks: 10, bfree: 10, bavail: 10, bsize: 4096, files: 0, ffree: 0 }).inodesUsedPercent, undefined);
});

test('a narinfo\'s signers are the names of its Sig lines', (t) => {
  const narinfo = 'StorePath: /nix/store/aaa-x\nURL: nar/x.nar\nSig: cache.example.org-1:AAAA==\nSig: other-2:BBBB==\n';
  t.deepEqual(signers(narinfo), ['cache.example.org-1', 'other-2']);
  t.deepEqual(signers('StorePath: /nix/store/aaa-x\n'), []);
  t.is(keyName('cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY='), 'cache.nixos.org-1');
});

test('the serve arguments are found after `serve`, also behind own-store', (t) => {
  t.deepEqual(serveArguments(['node', '/app/cli.js', 'serve', '--state-dir=/s']), ['--state-dir=/s']);
  t.deepEqual(serveArguments(['nixmount', 'own-store', '--store-dir=/nix/store', '--', 'serve', '--orchestrator=kubernetes']), ['--orchestrator=kubernetes']);
  t.is(serveArguments(['node', '/app/cli.js', 'gc']), undefined);
  t.deepEqual(parseEnviron('A=1\0NIXMOUNT_STATE_DIR=/x=y\0EMPTY=\0'), { A: '1', NIXMOUNT_STATE_DIR: '/x=y', EMPTY: '' });
});

test('a line per result: status, check, message and the fix of a problem', (t) => {
  t.is(formatLine({ check: 'nix', status: 'ok', message: 'nix (Nix) 2.8.0', fix: null }), 'ok      nix: nix (Nix) 2.8.0');
  t.is(formatLine(problem('socket', 'cannot create a socket in /csi: EROFS', 'mount it read-write')), 'problem socket: cannot create a socket in /csi: EROFS — fix: mount it read-write');
  t.is(formatLine({ check: 'orchestrator', status: 'info', message: 'old kubelets', fix: 'upgrade' }), 'info    orchestrator: old kubelets — fix: upgrade');
  t.is(formatLine(problem('nix', 'nix --version failed:\n  error: one\n  two', 'reinstall')), 'problem nix: nix --version failed: error: one two — fix: reinstall');
  t.is(formatReport([problem('a', 'm', 'f'), { check: 'b', status: 'ok', message: 'n', fix: null }]), 'problem a: m — fix: f\nok      b: n\n1 problem found (2 checks)');
  t.is(formatReport([{ check: 'b', status: 'ok', message: 'n', fix: null }]), 'ok      b: n\nno problem found (1 check)');
});

test('a check that hangs or throws is a problem of its own, and the others keep their order', async (t) => {
  const hangs: Check = { name: 'hangs', timeoutMs: 50, run: () => new Promise(() => undefined) };
  const throws: Check = { name: 'throws', timeoutMs: 1000, run: () => Promise.reject(new Error('boom')) };
  const two: Check = { name: 'two', timeoutMs: 1000, run: async () => [problem('two', 'a', 'b'), { check: 'two', status: 'ok', message: 'c', fix: null }] };
  const started = Date.now();
  const results = await runChecks([hangs, throws, two]);
  t.true(Date.now() - started < 1000);
  t.deepEqual(results.map(formatLine), [
    'problem hangs: did not finish within 0.05s — fix: something on the node hangs (a stuck mount, an unresponsive Nix or cache): look for processes in D state and for the slow part with the other checks',
    'problem throws: the check failed: boom — fix: run it again with --json and report it with the output, if it persists',
    'problem two: a — fix: b',
    'ok      two: c',
  ]);
});

test('orchestrator versions: which send a valid :authority', (t) => {
  t.deepEqual(parseVersion('Kubernetes v1.25.3'), [1, 25, 3]);
  t.deepEqual(parseVersion('Nomad v1.2.6 (a6c6b475db5073e33885377b4a5c733e1161020c)'), [1, 2, 6]);
  t.is(parseVersion('kubelet'), undefined);
  const kubelet = (text: string) => ORCHESTRATORS.kubernetes.fixed(parseVersion(text)!);
  const nomad = (text: string) => ORCHESTRATORS.nomad.fixed(parseVersion(text)!);
  t.deepEqual(['v1.25.16', 'v1.26.0', 'v1.31.2', 'v2.0.0'].map(kubelet), [false, true, true, true]);
  t.deepEqual(['v1.1.12', 'v1.1.13', 'v1.2.6', 'v1.2.7', 'v1.3.0', 'v1.0.18', 'v1.9.3'].map(nomad), [false, true, false, true, true, false, true]);
});
