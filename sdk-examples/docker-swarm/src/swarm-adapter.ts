import { isAtOrBelow, parseUserKeys, ProtectedDirs, type NodeIdentity, type OrchestratorAdapter, type ParsedVolumeContext } from 'nixmount/sdk';
import { SwarmDir } from './swarm-paths.js';

export interface SwarmAdapterOptions {
  nodeId: string;
  publishedDir: string;
  stagedDir: string;
  protectedDirs: readonly string[];
}

/**
 * Docker Swarm cluster volumes. The volume context a node receives is what the
 * controller's CreateVolume answered, and nixmount's controller answers with the
 * volume's parameters: the `--opt k=v` of `docker volume create`. Swarm adds no key of
 * its own and says nothing about the task, so every key is the user's.
 */
export class SwarmAdapter implements OrchestratorAdapter {
  readonly name = 'docker-swarm';
  // Swarm stages before it publishes when the plugin advertises staging, and some Docker
  // 23 releases mishandled plugins that do not: staging is the path every version takes.
  readonly supportsStaging = true;
  private readonly published: SwarmDir;
  private readonly staged: SwarmDir;

  constructor(private readonly options: SwarmAdapterOptions) {
    if (options.nodeId.trim() === '') throw new Error('docker-swarm: the node id is empty; pass --node-id (e.g. the Swarm node id)');
    const protectedDirs = new ProtectedDirs(options.protectedDirs);
    this.published = new SwarmDir(options.publishedDir, 'published-dir', 'target_path', protectedDirs);
    this.staged = new SwarmDir(options.stagedDir, 'staged-dir', 'staging_target_path', protectedDirs);
    if (isAtOrBelow(this.published.dir, this.staged.dir) || isAtOrBelow(this.staged.dir, this.published.dir)) {
      throw new Error(`docker-swarm: published-dir ${this.published.dir} and staged-dir ${this.staged.dir} must not contain each other`);
    }
  }

  parseVolumeContext(context: Readonly<Record<string, string>>): ParsedVolumeContext {
    return { spec: parseUserKeys(context), ephemeral: false, workload: {} };
  }

  nodeIdentity(): NodeIdentity {
    // No topology: every node realises closures itself, so a volume is usable on any node.
    return { nodeId: this.options.nodeId, maxVolumesPerNode: 0, topology: {} };
  }

  checkTargetPath(path: string): string {
    return this.published.check(path);
  }

  checkStagingPath(path: string): string {
    return this.staged.check(path);
  }
}
