import { inject, injectable } from 'inversify';
import { InvalidArgumentError } from './errors.js';
import { EvaluationCache } from './evaluation-cache.js';
import { Logger } from './ports/logger.js';
import { NixStore } from './ports/nix-store.js';
import type { VolumeSpec } from './volume-spec.js';

export interface ResolvedSource {
  /** The store paths the volume's view is rooted at, sorted. */
  roots: string[];
  /** What to realise so every root is valid: a root itself, or `<drv>!<output>` for evaluated ones. */
  targets: Map<string, string>;
}

/** Turns a VolumeSpec into the store paths it names (the roots of the view). */
@injectable()
export class Resolver {
  constructor(
    @inject(NixStore) private readonly nix: NixStore,
    @inject(EvaluationCache) private readonly evaluations: EvaluationCache,
    @inject(Logger) private readonly log: Logger,
  ) {}

  /** Static paths, the node's `<system>` paths and the outputs of an expression and a flake, all in one set. */
  async resolve(spec: VolumeSpec, options: { refresh?: boolean; log?: Logger } = {}): Promise<ResolvedSource> {
    const targets = new Map<string, string>();
    for (const path of spec.storePaths) targets.set(path, path);
    const systems = Object.keys(spec.systemPaths);
    if (systems.length > 0) {
      const own = await this.nix.system();
      const forThisNode = spec.systemPaths[own];
      if (forThisNode) {
        for (const path of forThisNode) targets.set(path, path);
      } else if (targets.size === 0 && spec.expression === undefined && spec.flakeRef === undefined) {
        throw new InvalidArgumentError(
          `the volume names store paths only for ${systems.sort().join(', ')}; this node is ${own}`,
        );
      }
    }
    const evaluationOptions = { refresh: options.refresh, log: options.log ?? this.log };
    if (spec.expression !== undefined) {
      const evaluation = await this.evaluations.expression(spec.expression, evaluationOptions);
      targets.set(evaluation.output, evaluation.target);
    }
    if (spec.flakeRef !== undefined) {
      const evaluation = await this.evaluations.flake(spec.flakeRef, evaluationOptions);
      targets.set(evaluation.output, evaluation.target);
    }
    return { roots: [...targets.keys()].sort(), targets };
  }
}
