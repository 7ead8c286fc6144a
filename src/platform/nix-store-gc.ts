import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { inject, injectable } from 'inversify';
import { CommandFailedError } from '../core/errors.js';
import type { CollectOptions, CollectResult, StoreGarbage, StoreSpace } from '../core/ports/nix-store.js';
import { nearestExisting } from './nearest-existing.js';
import { NixSettings, nixConfig, physicalRoot } from './nix-settings.js';
import { ProcessRunner } from './process-runner.js';

// Nix 2.x ends a collection with "N store paths deleted, X MiB freed" (on stdout).
const SUMMARY = /(\d+) store paths? deleted, ([\d.]+) (KiB|MiB|GiB|TiB) freed/;
const UNIT: Record<string, number> = { KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };

/** What Nix says it freed; nothing when it printed no summary (nothing was dead). */
export function parseGcSummary(output: string): CollectResult {
  const match = SUMMARY.exec(output);
  if (!match) return { bytesFreed: 0, pathsDeleted: 0 };
  return { pathsDeleted: Number(match[1]), bytesFreed: Math.round(Number(match[2]) * UNIT[match[3]!]!) };
}

/** The store's filesystem through statfs, and Nix's collector through `nix-store --gc --max-freed`. */
@injectable()
export class NixStoreGc implements StoreGarbage {
  private readonly root: string;

  constructor(
    @inject(ProcessRunner) private readonly runner: ProcessRunner,
    @inject(NixSettings) private readonly settings: NixSettings,
  ) {
    this.root = physicalRoot(settings.storeUri);
  }

  async space(): Promise<StoreSpace> {
    // A chroot store's directories appear on first use; until then the filesystem that
    // will hold them is that of their nearest existing parent.
    const stats = await statfs((await nearestExisting(join(this.root, 'nix/store'))).path);
    return { totalBytes: stats.blocks * stats.bsize, availableBytes: stats.bavail * stats.bsize };
  }

  async collect(options: CollectOptions): Promise<CollectResult> {
    const store = this.settings.storeUri ? ['--store', this.settings.storeUri] : [];
    const maxFreed = String(Math.max(1, Math.ceil(options.maxFreedBytes)));
    // allowFailure so a kill at the bound is told apart from Nix's own failure.
    const result = await this.runner.run('nix-store', [...store, '--gc', '--max-freed', maxFreed], {
      env: { NIX_CONFIG: nixConfig(this.settings) },
      timeoutMs: options.timeoutMs,
      allowFailure: true,
    });
    if (result.timedOut) {
      throw new CommandFailedError('nix-store --gc', undefined, result.stderr, { timedOut: true, timeoutMs: options.timeoutMs });
    }
    if (result.exitCode !== 0) throw new CommandFailedError('nix-store --gc', result.exitCode, result.stderr);
    return parseGcSummary(`${result.stdout}\n${result.stderr}`);
  }
}
