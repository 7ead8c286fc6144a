/**
 * The mount helper's program, run as `perl -e MOUNT_HELPER_PROGRAM <plugin pid>
 * <mount> <umount2> <prctl>` (the syscall numbers of the node's architecture).
 * Perl because it is the one interpreter every Debian-based node and image has
 * (perl-base is Essential) and it makes system calls itself (`syscall`); Node
 * cannot, so without a helper every bind and unmount costs a fork of the whole
 * plugin and an exec of util-linux.
 *
 * It does these things and nothing else: bind a directory onto another (mount(2)
 * with MS_BIND and no other flag: a new mount copies its source's flags); bind one
 * read-only, nosuid and nodev (that bind, then a remount of it with those flags, as
 * util-linux does for `-o bind,ro,nosuid,nodev`; a failed remount unmounts the
 * bind again, so no writable bind is left); and unmount one without following a
 * symlink (umount2(2) with UMOUNT_NOFOLLOW); and detach the one mount an fd link
 * (`/proc/<pid>/fd/<n>`) names, the one path it follows (MNT_DETACH: the descriptor
 * the link is would keep a plain unmount busy). For bind-farm views (a tree of
 * read-only binds, one per store path) it also binds a tree recursively (MS_REC),
 * plain or read-only (the remount makes only the tree's top read-only; its binds
 * are read-only already), detaches a tree (MNT_DETACH without following a
 * symlink), binds a directory onto itself read-only (ro,nosuid,nodev) and makes that
 * mount private (so the farm's binds below it never propagate), and takes many read-only binds or unmounts in one call, so a farm of
 * thousands of paths is a few round trips: a batch stops at its first failure
 * (an unmount of what is not, or no longer, a mount point is no failure).
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
  my $where = '';
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
  } elsif ($op eq 'rbind' && @paths == 2) {
    $rc = syscall($sys_mount, $paths[0], $paths[1], 0, 20480, 0);
  } elsif ($op eq 'rbind-ro' && @paths == 2) {
    $rc = syscall($sys_mount, $paths[0], $paths[1], 0, 20480, 0);
    if ($rc != -1) {
      $rc = syscall($sys_mount, 0, $paths[1], 0, 4135, 0);
      if ($rc == -1) {
        my $errno = $! + 0;
        syscall($sys_umount2, $paths[1], 10);
        $! = $errno;
      }
    }
  } elsif ($op eq 'bind-private' && @paths == 1) {
    $rc = syscall($sys_mount, $paths[0], $paths[0], 0, 4096, 0);
    if ($rc != -1) {
      $rc = syscall($sys_mount, 0, $paths[0], 0, 4135, 0);
      $rc = syscall($sys_mount, 0, $paths[0], 0, 262144, 0) if $rc != -1;
      if ($rc == -1) {
        my $errno = $! + 0;
        syscall($sys_umount2, $paths[0], 8);
        $! = $errno;
      }
    }
  } elsif ($op eq 'bind-ro-many' && @paths % 2 == 0) {
    $rc = 0;
    for (my $i = 0; $i < @paths; $i += 2) {
      $where = $paths[$i + 1];
      $rc = syscall($sys_mount, $paths[$i], $paths[$i + 1], 0, 4096, 0);
      last if $rc == -1;
      $rc = syscall($sys_mount, 0, $paths[$i + 1], 0, 4135, 0);
      if ($rc == -1) {
        my $errno = $! + 0;
        syscall($sys_umount2, $paths[$i + 1], 8);
        $! = $errno;
        last;
      }
    }
  } elsif ($op eq 'umount-many') {
    $rc = 0;
    for my $path (@paths) {
      $where = $path;
      $rc = syscall($sys_umount2, $path, 8);
      if ($rc == -1) {
        last unless $! == 22 || $! == 2;
        $rc = 0;
      }
    }
  } elsif ($op eq 'umount-tree' && @paths == 1) {
    $rc = syscall($sys_umount2, $paths[0], 10);
  } elsif ($op eq 'umount' && @paths == 1) {
    $rc = syscall($sys_umount2, $paths[0], 8);
  } elsif ($op eq 'umount-fd' && @paths == 1 && $paths[0] =~ m{^/proc/\d+/fd/\d+$}) {
    $rc = syscall($sys_umount2, $paths[0], 2);
  }
  my $errno = $rc == -1 ? $! + 0 : 0;
  my $message = $errno ? ($where eq '' ? '' : "$where: ") . "$!" : '';
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
