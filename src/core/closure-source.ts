import { inject, injectable } from 'inversify';
import { Logger } from './ports/logger.js';
import { NixStore } from './ports/nix-store.js';
import { Resolver } from './resolver.js';
import type { VolumeSpec } from './volume-spec.js';

/**
 * Resolve and realise: from what the user named to roots valid in the node
 * store. Publishing and staging both start here.
 */
@injectable()
export class ClosureSource {
  constructor(
    @inject(Resolver) private readonly resolver: Resolver,
    @inject(NixStore) private readonly nix: NixStore,
    @inject(Logger) private readonly log: Logger,
  ) {}

  async prepare(spec: VolumeSpec, log: Logger = this.log): Promise<string[]> {
    const roots = await this.resolver.roots(spec);
    const missing = await this.nix.invalidPaths(roots);
    if (missing.length > 0) {
      log.info({ paths: missing }, 'substituting store paths missing from the node store');
      await this.nix.substitute(missing);
    }
    return roots;
  }
}
