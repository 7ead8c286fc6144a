import { access, constants, mkdir } from 'node:fs/promises';
import type { Logger } from '../core/ports/logger.js';
import type { NixStore } from '../core/ports/nix-store.js';

const CACHE_MS = 10_000;

/**
 * Probe's answer: ready once Nix answers and the state directory is writable.
 * Cached briefly, because Nomad probes every few seconds and each check spawns Nix.
 */
export class Readiness {
  private last?: { at: number; ready: boolean };

  constructor(
    /** Absent for a controller alone, which never runs Nix. */
    private readonly nix: NixStore | undefined,
    private readonly stateDir: string,
    private readonly log: Logger,
  ) {}

  async ready(): Promise<boolean> {
    if (this.last && Date.now() - this.last.at < CACHE_MS) return this.last.ready;
    let ready = true;
    try {
      await mkdir(this.stateDir, { recursive: true });
      await access(this.stateDir, constants.W_OK);
      await this.nix?.check();
    } catch (error) {
      this.log.warn({ err: error }, 'not ready');
      ready = false;
    }
    this.last = { at: Date.now(), ready };
    return ready;
  }
}
