import { NixmountError, isNixmountError, type ErrorKind } from '../../core/errors.js';
import type { NodeIdentity, OrchestratorAdapter, ParsedVolumeContext } from '../../core/orchestrator-adapter.js';

const KINDS = new Set<ErrorKind>([
  'InvalidArgument', 'NotFound', 'AlreadyExists', 'PermissionDenied', 'ResourceExhausted',
  'FailedPrecondition', 'Aborted', 'Unimplemented', 'Internal', 'Unavailable',
]);

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((entry) => typeof entry === 'string');
}

/**
 * Every adapter nixmount serves, seen through the SDK's promises. An adapter package
 * installed beside nixmount may carry its own copy of the SDK, whose error classes are
 * not nixmount's: an error with a known `kind` is answered with that kind (not INTERNAL).
 * Answers of the wrong shape are INTERNAL errors naming the adapter and the method, not
 * a crash deep in the core.
 */
export class CheckedAdapter implements OrchestratorAdapter {
  readonly name: string;
  readonly supportsStaging: boolean;

  constructor(private readonly inner: OrchestratorAdapter) {
    this.name = inner.name;
    this.supportsStaging = inner.supportsStaging;
    const workloadOf = inner.workloadOf?.bind(inner);
    if (workloadOf) {
      this.workloadOf = (context) => {
        try {
          const workload = workloadOf(context);
          return isStringRecord(workload) ? workload : {};
        } catch {
          return {};
        }
      };
    }
  }

  parseVolumeContext(context: Readonly<Record<string, string>>): ParsedVolumeContext {
    const parsed = this.call('parseVolumeContext', () => this.inner.parseVolumeContext(context));
    const spec = (parsed as Partial<ParsedVolumeContext> | undefined)?.spec;
    const fits =
      typeof parsed === 'object' && parsed !== null && typeof parsed.ephemeral === 'boolean' && isStringRecord(parsed.workload) &&
      typeof spec === 'object' && spec !== null && Array.isArray(spec.storePaths) && typeof spec.systemPaths === 'object';
    if (!fits) this.wrongShape('parseVolumeContext', '{ spec: VolumeSpec, ephemeral: boolean, workload: Record<string, string> }');
    return parsed;
  }

  nodeIdentity(): NodeIdentity {
    const identity = this.call('nodeIdentity', () => this.inner.nodeIdentity());
    const fits =
      typeof identity === 'object' && identity !== null && typeof identity.nodeId === 'string' && identity.nodeId !== '' &&
      Number.isInteger(identity.maxVolumesPerNode) && identity.maxVolumesPerNode >= 0 && isStringRecord(identity.topology);
    if (!fits) this.wrongShape('nodeIdentity', '{ nodeId: non-empty string, maxVolumesPerNode: integer ≥ 0, topology: Record<string, string> }');
    return identity;
  }

  /** Only where the adapter has it (optional in the SDK); a wrong answer is no workload rather than an error, as it only labels events. */
  workloadOf?(context: Readonly<Record<string, string>>): Record<string, string>;

  checkTargetPath(path: string): string {
    return this.path('checkTargetPath', this.call('checkTargetPath', () => this.inner.checkTargetPath(path)));
  }

  checkStagingPath(path: string): string {
    return this.path('checkStagingPath', this.call('checkStagingPath', () => this.inner.checkStagingPath(path)));
  }

  private path(method: string, path: unknown): string {
    if (typeof path !== 'string' || !path.startsWith('/')) this.wrongShape(method, 'the canonical absolute path');
    return path as string;
  }

  private call<T>(method: string, run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (isNixmountError(error)) throw error;
      const kind = (error as { kind?: unknown } | null)?.kind;
      if (error instanceof Error && typeof kind === 'string' && KINDS.has(kind as ErrorKind)) {
        throw new NixmountError(kind as ErrorKind, error.message, { cause: error });
      }
      throw new NixmountError('Internal', `the ${this.name} adapter's ${method} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  private wrongShape(method: string, expected: string): never {
    throw new NixmountError('Internal', `the ${this.name} adapter's ${method} answered something other than ${expected}`);
  }
}
