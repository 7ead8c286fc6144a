import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindFarmMounts, mountHeadroom, type ViewMode } from '../core/view-presentation.js';
import { MountHelper, type MountHelperSettings } from '../platform/mount-helper.js';
import { createLogger } from '../platform/pino-logger.js';
import type { ProcessRunner } from '../platform/process-runner.js';
import { ProcMountBudget } from '../platform/proc-mount-budget.js';
import { info, ok, problem, reason, type Check } from './check.js';

const NAME = 'views';
const TIMEOUT_MS = 15_000;
/** The closure size doctor states the budget in (a typical application's). */
const SAMPLE_PATHS = 200;

/**
 * Which presentation read-only volumes get (--view-mode), and whether a bind farm
 * can be made here: one trial read-only bind of a temp dir (made and undone by the
 * mount helper, as a farm's binds are), and the mount budget — fs.mount-max, the
 * mounts present and how many more 200-path read-only volumes fit as bind farms.
 */
export function viewsCheck(runner: ProcessRunner, config: { viewMode: ViewMode; mountMaxFile: string; mounts: MountHelperSettings }): Check {
  return {
    name: NAME,
    timeoutMs: TIMEOUT_MS,
    async run() {
      if (config.viewMode === 'hardlink') return ok(NAME, '--view-mode hardlink: every view is a hardlink farm (cost per file)');
      const count = await new ProcMountBudget({ mountMaxFile: config.mountMaxFile } as ConstructorParameters<typeof ProcMountBudget>[0]).count();
      const available = count.max - mountHeadroom(count.max) - count.used;
      const firstVolume = bindFarmMounts(SAMPLE_PATHS, false);
      const perVolume = bindFarmMounts(SAMPLE_PATHS, true);
      const fits = available < firstVolume ? 0 : 1 + Math.floor((available - firstVolume) / perVolume);
      const budget = `fs.mount-max ${count.max} (${config.mountMaxFile}), ${count.used} mounts present, ${mountHeadroom(count.max)} kept free: ${fits} read-only volumes of a ${SAMPLE_PATHS}-path closure fit as bind farms, later ones get hardlink views`;
      const trial = await trialBind(runner, config.mounts);
      if (trial !== undefined) {
        const message = `a bind farm cannot be made here (a trial read-only bind failed: ${trial})`;
        return config.viewMode === 'bind-farm'
          ? problem(NAME, `--view-mode bind-farm, but ${message}`, 'run serve as root with CAP_SYS_ADMIN (a privileged container), or use --view-mode auto to fall back to hardlinks')
          : info(NAME, `--view-mode auto: ${message}; read-only volumes get hardlink views`, 'run serve as root with CAP_SYS_ADMIN for bind farms (cost per store path, not per file)');
      }
      const mode = `--view-mode ${config.viewMode}: read-only volumes get bind-farm views (one read-only bind per store path) while the mount budget lasts, read-write volumes hardlink views`;
      return fits === 0 ? info(NAME, `${mode}; ${budget}`, 'raise fs.mount-max (sysctl fs.mount-max) or expect hardlink views') : ok(NAME, `${mode}; ${budget}`);
    },
  };
}

async function trialBind(runner: ProcessRunner, settings: MountHelperSettings): Promise<string | undefined> {
  const helper = new MountHelper(runner, createLogger({ level: 'silent' }), settings);
  const dir = await mkdtemp(join(tmpdir(), '.nixmount-doctor-'));
  const [source, target] = [join(dir, 'source'), join(dir, 'target')];
  try {
    await mkdir(source);
    await mkdir(target);
    await helper.bindReadOnlyMany([[source, target]]);
    await helper.unmountMany([target]);
    return undefined;
  } catch (error) {
    return reason(error);
  } finally {
    helper.close();
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
