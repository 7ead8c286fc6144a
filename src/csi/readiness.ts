import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../core/ports/logger.js';
import type { NixStore } from '../core/ports/nix-store.js';

/** How long a good answer from Nix is trusted: each check spawns Nix, and Nomad probes every few seconds. */
const NIX_CACHE_MS = 10_000;

/** A part of the node that can say it is not fit to serve now: why, or undefined when it is. */
export type NotReadyReason = () => string | undefined;

/**
 * Probe's answer: ready while the state directory takes a write, Nix answers and no
 * other part (the mount helper) says why it is not.
 * The state dir is tried on every probe, by writing, fsyncing and removing a small file:
 * access() says nothing about a file system remounted read-only or full, and a plugin
 * that cannot write records must stop being ready at once. Only the Nix check is cached.
 */
export class Readiness {
  private nixChecked?: { at: number; ok: boolean };
  private probes = 0;

  constructor(
    /** Absent for a controller alone, which never runs Nix. */
    private readonly nix: NixStore | undefined,
    private readonly stateDir: string,
    private readonly log: Logger,
    private readonly others: readonly NotReadyReason[] = [],
  ) {}

  async ready(): Promise<boolean> {
    for (const other of this.others) {
      const reason = other();
      if (reason !== undefined) {
        this.log.warn({ reason }, 'not ready');
        return false;
      }
    }
    try {
      await this.writeProbe();
    } catch (error) {
      this.log.warn({ err: error, stateDir: this.stateDir }, 'not ready: the state directory cannot be written');
      return false;
    }
    if (this.nixChecked && Date.now() - this.nixChecked.at < NIX_CACHE_MS) return this.nixChecked.ok;
    let ok = true;
    try {
      await this.nix?.check();
    } catch (error) {
      this.log.warn({ err: error }, 'not ready: Nix does not answer');
      ok = false;
    }
    this.nixChecked = { at: Date.now(), ok };
    return ok;
  }

  /** Writes, fsyncs and removes `<state>/.probe-<pid>-<n>`; a failure at any step is not ready. */
  private async writeProbe(): Promise<void> {
    await mkdir(this.stateDir, { recursive: true });
    this.probes += 1;
    const path = join(this.stateDir, `.probe-${process.pid}-${this.probes}`);
    const file = await open(path, 'wx');
    try {
      await file.writeFile('probe\n');
      await file.sync();
    } catch (error) {
      await file.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      throw error;
    }
    await file.close();
    await unlink(path);
  }
}
