import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from './core/ports/logger.js';
import type { StageState } from './core/ports/stage-state.js';
import type { VolumeState } from './core/ports/volume-state.js';
import type { ViewManager } from './core/view-manager.js';
import { relockStateDir } from './state-dir-lock.js';

/** How often the state directory is looked at: one lstat. */
const WATCH_MS = 10_000;

/**
 * Notices the state directory's content removed under the running plugin (an `rm -rf` of
 * it on the node): its `owner.lock` is gone or another file. Live volumes keep their mounts
 * (what they mount is referenced by the kernel, and the directories they are mounted on
 * stay), and this process still knows every record: it writes them back, takes the lock
 * again (else a second serve could start on the emptied directory), and says what it
 * cannot give back, read-write volumes whose overlay directories went with the wipe. The GC
 * roots of views that went with it are dropped.
 * Views that lost their files are made whole on their next publish (HardlinkViewStore).
 */
export class StateDirWatch {
  private timer?: NodeJS.Timeout;
  private checking = false;

  private constructor(
    private readonly stateDir: string,
    private readonly volumes: VolumeState,
    private readonly stages: StageState,
    private readonly views: Pick<ViewManager, 'dropRootsOfVanishedViews'>,
    private readonly log: Logger,
    private identity: string,
  ) {}

  static async start(
    stateDir: string,
    node: { volumes: VolumeState; stages: StageState; views: Pick<ViewManager, 'dropRootsOfVanishedViews'> },
    log: Logger,
    everyMs = WATCH_MS,
  ): Promise<StateDirWatch> {
    const watch = new StateDirWatch(stateDir, node.volumes, node.stages, node.views, log, await lockIdentity(stateDir));
    watch.timer = setInterval(() => void watch.check(), everyMs);
    watch.timer.unref();
    return watch;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look; answers whether a wipe was found (and repaired as far as it can be). */
  async check(): Promise<boolean> {
    if (this.checking) return false;
    this.checking = true;
    try {
      if ((await lockIdentity(this.stateDir)) === this.identity) return false;
      await this.repair();
      return true;
    } catch (error) {
      this.log.error({ err: error, stateDir: this.stateDir }, 'the state directory changed under the running plugin and could not be repaired');
      return true;
    } finally {
      this.checking = false;
    }
  }

  private async repair(): Promise<void> {
    const volumes = this.volumes.list();
    const stages = this.stages.list();
    for (const record of volumes) await this.volumes.put(record);
    for (const record of stages) await this.stages.put(record);
    const locked = await relockStateDir(this.stateDir);
    // Roots of views that went with the wipe: nothing else would ever drop them.
    const rootsDropped = await this.views.dropRootsOfVanishedViews();
    this.identity = await lockIdentity(this.stateDir);
    const lostOverlays: string[] = [];
    for (const record of volumes) {
      if (record.overlayDir && !(await lstat(join(record.overlayDir, 'upper')).then(() => true, () => false))) lostOverlays.push(record.targetPath);
    }
    this.log.error(
      {
        stateDir: this.stateDir,
        volumesRewritten: volumes.length,
        stagesRewritten: stages.length,
        lockTakenAgain: locked,
        viewsGone: rootsDropped,
        ...(lostOverlays.length > 0 ? { readWriteVolumesWithoutOverlayDir: lostOverlays } : {}),
      },
      `the state directory's content was removed under the running plugin: the records of its ${volumes.length} volumes and ${stages.length} stages were written again from memory, views that lost their files are made whole on their next publish` +
        (lostOverlays.length > 0 ? `; ${lostOverlays.length} read-write volumes lost the overlay directory holding their writes (their workloads keep the mount; restart them to get a fresh one)` : '') +
        (locked ? '' : '; another process holds the state directory\'s new lock: stop it, two owners of one state directory do not see each other\'s views'),
    );
  }
}

/** `owner.lock`'s device and inode, or "gone". */
async function lockIdentity(stateDir: string): Promise<string> {
  const stats = await lstat(join(stateDir, 'owner.lock'), { bigint: true }).catch(() => undefined);
  return stats ? `${stats.dev}:${stats.ino}` : 'gone';
}
