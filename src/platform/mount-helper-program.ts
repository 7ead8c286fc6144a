/**
 * The mount helper's program, run as `perl -e MOUNT_HELPER_PROGRAM <plugin pid>
 * <mount> <umount2> <prctl>` (the syscall numbers of the node's architecture).
 * Perl because it is the one interpreter every Debian-based node and image has
 * (perl-base is Essential) and it makes system calls itself (`syscall`); Node
 * cannot, so without a helper every bind and unmount costs a fork of the whole
 * plugin and an exec of util-linux.
 *
 * It does four things and nothing else: bind a directory onto another (mount(2)
 * with MS_BIND and no other flag: a new mount copies its source's flags); bind one
 * read-only, nosuid and nodev (that bind, then a remount of it with those flags, as
 * util-linux does for `-o bind,ro,nosuid,nodev`; a failed remount unmounts the
 * bind again, so no writable bind is left); and unmount one without following a
 * symlink (umount2(2) with UMOUNT_NOFOLLOW); and detach the one mount an fd link
 * (`/proc/<pid>/fd/<n>`) names, the one path it follows (MNT_DETACH: the descriptor
 * the link is would keep a plain unmount busy).
 *
 * Protocol, one call at a time on stdin: a 4-byte big-endian length, then that
 * many bytes of NUL-separated fields (id, deadline, operation, paths; Linux paths
 * hold no NUL). Each answer is one line on stdout: `<id> <errno> <strerror>`, errno 0 on
 * success. A call read at or after its deadline (seconds since the epoch) is not
 * made and answers ETIMEDOUT: its caller stopped waiting and gave it to util-linux. First it answers `ready <errno>` for umount2 of an empty path, which
 * must be ENOENT: proof that the numbers it was given are the calls meant.
 * It dies with the plugin (PR_SET_PDEATHSIG, SIGKILL): a system call in flight
 * completes or not at all, so a killed plugin leaves no helper finishing work
 * behind the next start's back. A bad frame or end of input ends it.
 */
export const MOUNT_HELPER_PROGRAM = String.raw`
use strict;
my ($parent, $sys_mount, $sys_umount2, $sys_prctl) = map { $_ + 0 } @ARGV;
syscall($sys_prctl, 1, 9, 0, 0, 0);
exit 0 if getppid() != $parent;
$| = 1;
binmode STDIN;
binmode STDOUT;
my $empty = '';
my $probe = syscall($sys_umount2, $empty, 8);
print 'ready ', ($probe == -1 ? $! + 0 : 0), "\n";
while (1) {
  my $header = '';
  last unless read(STDIN, $header, 4) == 4;
  my $length = unpack('N', $header);
  exit 2 if $length > 65536;
  my $body = '';
  while (length($body) < $length) {
    my $got = read(STDIN, $body, $length - length($body), length($body));
    exit 2 unless $got;
  }
  my ($id, $deadline, $op, @paths) = split /\0/, $body, -1;
  my $rc = -1;
  $! = 22;
  if (time() >= $deadline) {
    $! = 110;
  } elsif ($op eq 'bind' && @paths == 2) {
    $rc = syscall($sys_mount, $paths[0], $paths[1], 0, 4096, 0);
  } elsif ($op eq 'bind-ro' && @paths == 2) {
    $rc = syscall($sys_mount, $paths[0], $paths[1], 0, 4096, 0);
    if ($rc != -1) {
      $rc = syscall($sys_mount, 0, $paths[1], 0, 4135, 0);
      if ($rc == -1) {
        my $errno = $! + 0;
        syscall($sys_umount2, $paths[1], 8);
        $! = $errno;
      }
    }
  } elsif ($op eq 'umount' && @paths == 1) {
    $rc = syscall($sys_umount2, $paths[0], 8);
  } elsif ($op eq 'umount-fd' && @paths == 1 && $paths[0] =~ m{^/proc/\d+/fd/\d+$}) {
    $rc = syscall($sys_umount2, $paths[0], 2);
  }
  my $errno = $rc == -1 ? $! + 0 : 0;
  my $message = $errno ? "$!" : '';
  $message =~ tr/\n/ /;
  print "$id $errno $message\n";
}
`;

/** mount, umount2 and prctl on the architectures whose numbers are known here (x86-64's own table; arm64 and riscv64 share the generic one). */
export const MOUNT_HELPER_SYSCALLS: Readonly<Record<string, readonly [number, number, number]>> = {
  x64: [165, 166, 157],
  arm64: [40, 39, 167],
  riscv64: [40, 39, 167],
};
