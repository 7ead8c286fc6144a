import { execa } from 'execa';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * When a wrapper SIGKILLs the plugin: before running the real command, right after it, or before
 * it while it keeps writing as an orphan. `pause` kills nothing: the call waits before it is made
 * until the test resumes it (see CrashWrappers.resume), so a test acts at that very moment.
 */
export type KillWhen = 'before' | 'after' | 'orphan' | 'pause';

export interface CommandMoment {
  command: string;
  /** 1-based invocation number of `command` since `arm`. */
  n: number;
  when: KillWhen;
}

export const WRAPPED_COMMANDS = ['mount', 'umount', 'cp', 'nix-store', 'nix'] as const;
/** The mount helper's system calls, counted as commands of these names. */
export const HELPER_CALLS = ['mount(2)', 'umount2(2)'] as const;

/** How long an orphaned writer keeps writing into its destination after the plugin died. */
export const ORPHAN_WRITE_SECONDS = 3;

function script(name: string, real: string, ctl: string, pidFile: string): string {
  return `#!/bin/sh
# nixmount crash-injection wrapper for ${name} (tests only; the plugin finds it first on PATH)
CTL='${ctl}'
REAL='${real}'
if [ -e "$CTL/armed" ]; then
  exec 9>>"$CTL/lock"
  flock 9
  n=$(( $(cat "$CTL/count.${name}" 2>/dev/null || echo 0) + 1 ))
  echo "$n" > "$CTL/count.${name}"
  echo "${name} $n $*" >> "$CTL/calls"
  flock -u 9
  exec 9>&-
  if [ -e "$CTL/target" ]; then
    read -r tname tn twhen < "$CTL/target"
    if [ "$tname" = "${name}" ] && [ "$tn" = "$n" ]; then
      pid=$(cat '${pidFile}' 2>/dev/null)
      case "$twhen" in
        pause)
          echo "${name} $n" >> "$CTL/paused"
          i=0
          while [ ! -e "$CTL/resume" ] && [ "$i" -lt 2000 ]; do sleep 0.01; i=$((i + 1)); done
          exec "$REAL" "$@" ;;
        before)
          echo "${name} $n before $pid" >> "$CTL/killed"
          [ -n "$pid" ] && kill -9 "$pid"
          exit 137 ;;
        after)
          "$REAL" "$@"
          rc=$?
          echo "${name} $n after $pid" >> "$CTL/killed"
          [ -n "$pid" ] && kill -9 "$pid"
          exit $rc ;;
        orphan)
          dest=""
          prev=""
          for arg in "$@"; do
            if [ "$prev" = "--target-directory" ] || [ "$prev" = "-t" ]; then dest="$arg"; fi
            prev="$arg"
          done
          [ -z "$dest" ] && for arg in "$@"; do dest="$arg"; done
          echo "${name} $n orphan $pid" >> "$CTL/killed"
          [ -n "$pid" ] && kill -9 "$pid"
          # A cp of a big closure goes on writing after its parent died.
          end=$(( $(date +%s) + ${ORPHAN_WRITE_SECONDS} ))
          i=0
          while [ "$(date +%s)" -lt "$end" ]; do
            mkdir "$dest/orphan-$i" 2>/dev/null && : > "$dest/orphan-$i/f" 2>/dev/null
            i=$((i + 1))
          done
          exit 137 ;;
      esac
    fi
  fi
fi
exec "$REAL" "$@"
`;
}

/**
 * The mount helper (one perl process making mount(2) and umount2(2) calls) spawns no
 * command the scripts above could stop at, so perl is wrapped too: the wrapper runs the
 * helper's own program under this hook, which counts its system calls as the commands
 * `mount(2)` and `umount2(2)` (their probe at start excepted) in the same log, and at
 * the target moment SIGKILLs the plugin before the call or right after it. The helper
 * then dies with the plugin, as it would.
 */
function helperHook(ctl: string, pidFile: string): string {
  return String.raw`use strict;
use Fcntl qw(:flock);
my ($program, @args) = @ARGV;
my ($mount, $umount2) = @args[1, 2];
@ARGV = @args;
sub slurp { open(my $fh, '<', $_[0]) or return undef; local $/; my $text = <$fh>; close $fh; return $text; }
sub append { open(my $fh, '>>', $_[0]) or return; print $fh $_[1]; close $fh; }
my $kill = sub {
  my ($line) = @_;
  append('${ctl}/killed', $line);
  my $pid = slurp('${pidFile}');
  kill 'KILL', $pid + 0 if defined $pid && $pid =~ /^\s*\d+\s*$/;
};
*CORE::GLOBAL::syscall = sub {
  my $number = shift;
  my $name = $number == $mount ? 'mount(2)' : $number == $umount2 ? 'umount2(2)' : undef;
  return CORE::syscall($number, @_) unless defined $name && -e '${ctl}/armed' && !($name eq 'umount2(2)' && $_[0] eq '');
  open(my $lock, '>>', '${ctl}/lock') or die;
  flock($lock, LOCK_EX);
  my $n = (slurp("${ctl}/count.$name") // 0) + 1;
  open(my $count, '>', "${ctl}/count.$name") or die; print $count "$n\n"; close $count;
  append('${ctl}/calls', join(' ', $name, $n, grep { !/^\d+$/ } @_) . "\n");
  close $lock;
  my ($tname, $tn, $twhen) = split ' ', (slurp('${ctl}/target') // '');
  if (defined $tname && $tname eq $name && $tn == $n) {
    if ($twhen eq 'before') { $kill->("$name $n before\n"); exit 137; }
    if ($twhen eq 'pause') {
      append('${ctl}/paused', "$name $n\n");
      for (1 .. 2000) { last if -e '${ctl}/resume'; select(undef, undef, undef, 0.01); }
      return CORE::syscall($number, @_);
    }
    my $rc = CORE::syscall($number, @_);
    $kill->("$name $n after\n");
    return $rc;
  }
  return CORE::syscall($number, @_);
};
eval $program;
die $@ if $@;
`;
}

/**
 * A PATH directory of wrapper scripts for mount, umount, cp, nix-store and nix. Armed, each logs
 * its invocation (per-command counter, under flock: cp and nix-store run concurrently) and, when
 * the invocation matches the target moment, SIGKILLs the plugin whose pid is in <state>/owner.pid.
 * No test branch in production code: the plugin merely finds these first on its PATH.
 */
export class CrashWrappers {
  private constructor(
    readonly binDir: string,
    /** The wrappers' control directory: `paused` appears in it when a paused call waits. */
    readonly ctl: string,
  ) {}

  static async create(dir: string, stateDir: string): Promise<CrashWrappers> {
    const binDir = join(dir, 'crash-bin');
    const ctl = join(dir, 'crash-ctl');
    await mkdir(binDir, { recursive: true });
    await mkdir(ctl, { recursive: true });
    for (const name of WRAPPED_COMMANDS) {
      const real = (await execa('sh', ['-c', `command -v ${name}`])).stdout.trim();
      const file = join(binDir, name);
      await writeFile(file, script(name, real, ctl, join(stateDir, 'owner.pid')));
      await chmod(file, 0o755);
    }
    const perl = (await execa('sh', ['-c', 'command -v perl'])).stdout.trim();
    const hook = join(ctl, 'helper-hook.pl');
    await writeFile(hook, helperHook(ctl, join(stateDir, 'owner.pid')));
    // The mount helper is started as `perl -e PROGRAM ARGS…`; anything else runs as it is.
    await writeFile(join(binDir, 'perl'), `#!/bin/sh\n[ "$1" = "-e" ] || exec '${perl}' "$@"\nshift\nexec '${perl}' '${hook}' "$@"\n`);
    await chmod(join(binDir, 'perl'), 0o755);
    return new CrashWrappers(binDir, ctl);
  }

  /** Starts counting invocations from zero; with a moment, the matching invocation kills the plugin. */
  async arm(moment?: CommandMoment): Promise<void> {
    await this.disarm();
    for (const name of [...WRAPPED_COMMANDS, ...HELPER_CALLS]) await rm(join(this.ctl, `count.${name}`), { force: true });
    await rm(join(this.ctl, 'calls'), { force: true });
    await rm(join(this.ctl, 'killed'), { force: true });
    await rm(join(this.ctl, 'paused'), { force: true });
    await rm(join(this.ctl, 'resume'), { force: true });
    if (moment) await writeFile(join(this.ctl, 'target'), `${moment.command} ${moment.n} ${moment.when}\n`);
    await writeFile(join(this.ctl, 'armed'), '');
  }

  /** Lets a paused call go on (synchronous: callable inside an inotify callback). */
  resume(): void {
    writeFileSync(join(this.ctl, 'resume'), '');
  }

  async disarm(): Promise<void> {
    await rm(join(this.ctl, 'armed'), { force: true });
    await rm(join(this.ctl, 'target'), { force: true });
  }

  /** The invocations since `arm`, in order: "cp 1 --archive …". */
  async calls(): Promise<Array<{ command: string; n: number; line: string }>> {
    const text = await readFile(join(this.ctl, 'calls'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => {
        const [command, n] = line.split(' ');
        return { command: command!, n: Number(n), line };
      });
  }

  /** Whether a wrapper fired since `arm`. */
  async fired(): Promise<boolean> {
    return (await readFile(join(this.ctl, 'killed'), 'utf8').catch(() => '')).length > 0;
  }
}
