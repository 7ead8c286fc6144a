import { inject, injectable } from 'inversify';
import { InvalidArgumentError, UnimplementedError } from './errors.js';
import { NixStore } from './ports/nix-store.js';
import type { VolumeSpec } from './volume-spec.js';

/** Turns a VolumeSpec into the store paths it names (the roots of the view). */
@injectable()
export class Resolver {
  constructor(@inject(NixStore) private readonly nix: NixStore) {}

  async roots(spec: VolumeSpec): Promise<string[]> {
    const roots = new Set(spec.storePaths);
    const systems = Object.keys(spec.systemPaths);
    if (systems.length > 0) {
      const own = await this.nix.system();
      const forThisNode = spec.systemPaths[own];
      if (forThisNode) {
        for (const path of forThisNode) roots.add(path);
      } else if (roots.size === 0 && !spec.expression && !spec.flakeRef) {
        throw new InvalidArgumentError(
          `the volume names store paths only for ${systems.join(', ')}; this node is ${own}`,
        );
      }
    }
    if (spec.expression !== undefined) {
      throw new UnimplementedError('the "expression" key is not supported by this nixmount build');
    }
    if (spec.flakeRef !== undefined) {
      throw new UnimplementedError('the "flakeRef" key is not supported by this nixmount build');
    }
    return [...roots].sort();
  }
}
