import { execa } from 'execa';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** When a wrapper SIGKILLs the plugin: before running the real command, right after it, or before it while it keeps writing as an orphan. */
export type KillWhen = 'before' | 'after' | 'orphan';

export interface CommandMoment {
  command: string;
  /** 1-based invocation number of `command` since `arm`. */
  n: number;
  when: KillWhen;
}

export const WRAPPED_COMMANDS = ['mount', 'umount', 'cp', 'nix-store', 'nix'] as const;

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
 * A PATH directory of wrapper scripts for mount, umount, cp, nix-store and nix. Armed, each logs
 * its invocation (per-command counter, under flock: cp and nix-store run concurrently) and, when
 * the invocation matches the target moment, SIGKILLs the plugin whose pid is in <state>/owner.pid.
 * No test branch in production code: the plugin merely finds these first on its PATH.
 */
export class CrashWrappers {
  private constructor(
    readonly binDir: string,
    private readonly ctl: string,
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
    return new CrashWrappers(binDir, ctl);
  }

  /** Starts counting invocations from zero; with a moment, the matching invocation kills the plugin. */
  async arm(moment?: CommandMoment): Promise<void> {
    await this.disarm();
    for (const name of WRAPPED_COMMANDS) await rm(join(this.ctl, `count.${name}`), { force: true });
    await rm(join(this.ctl, 'calls'), { force: true });
    await rm(join(this.ctl, 'killed'), { force: true });
    if (moment) await writeFile(join(this.ctl, 'target'), `${moment.command} ${moment.n} ${moment.when}\n`);
    await writeFile(join(this.ctl, 'armed'), '');
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
