import { inject, injectable } from 'inversify';
import { AbortedError, AlreadyExistsError, NotFoundError } from '../errors.js';
import { Clock } from '../ports/clock.js';
import { ControllerState } from '../ports/controller-state.js';
import { Logger } from '../ports/logger.js';
import {
  checkCapacity,
  isVolumeId,
  requestFingerprint,
  volumeIdFor,
  type CreateVolumeRequest,
  type ProvisionedVolume,
} from './provisioned-volume.js';

export interface VolumePage {
  volumes: ProvisionedVolume[];
  /** Empty when this page is the last. */
  nextToken: string;
}

export interface ValidationResult {
  /** Why the volume does not match the request, or undefined when it does. */
  mismatch?: string;
}

/**
 * The controller side of nixmount. Creating a volume provisions nothing on any
 * node: it validates the user keys once, remembers the name, and hands back a
 * volume context from which every node can publish on its own.
 */
@injectable()
export class VolumeController {
  constructor(
    @inject(ControllerState) private readonly state: ControllerState,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly log: Logger,
  ) {}

  async recover(): Promise<void> {
    await this.state.load();
    this.log.info({ volumes: this.state.list().length }, 'controller state reloaded');
  }

  /** Idempotent by name; everything is validated before anything is recorded. */
  async create(request: CreateVolumeRequest, log: Logger = this.log): Promise<{ volume: ProvisionedVolume; created: boolean }> {
    checkCapacity(request.capacity);
    const fingerprint = requestFingerprint(request);
    const volumeId = volumeIdFor(request.name);
    const existing = this.state.get(volumeId);
    if (existing) {
      if (existing.fingerprint !== fingerprint) {
        throw new AlreadyExistsError(
          `volume "${request.name}" already exists with other parameters or another capacity range`,
        );
      }
      return { volume: existing, created: false };
    }
    const volume: ProvisionedVolume = {
      volumeId,
      name: request.name,
      parameters: { ...request.parameters },
      requiredBytes: request.capacity.requiredBytes.toString(),
      limitBytes: request.capacity.limitBytes.toString(),
      fingerprint,
      createdAt: this.clock.now().toISOString(),
    };
    await this.state.put(volume);
    log.info({ volumeId, name: request.name }, 'volume created');
    return { volume, created: true };
  }

  /** Deleting an unknown or already deleted volume is not an error (CSI). */
  async delete(volumeId: string, log: Logger = this.log): Promise<{ existed: boolean }> {
    const existed = this.state.get(volumeId) !== undefined;
    await this.state.delete(volumeId);
    if (existed) log.info({ volumeId }, 'volume deleted');
    return { existed };
  }

  get(volumeId: string): ProvisionedVolume {
    const volume = this.state.get(volumeId);
    if (!volume) throw new NotFoundError(`volume ${volumeId} does not exist`);
    return volume;
  }

  /**
   * Pages through volumes in id order. The token is the id of the last volume
   * returned, so deleting or adding volumes between pages never repeats one;
   * anything that is not a volume id is ABORTED, as CSI asks.
   */
  list(maxEntries: number, startingToken: string): VolumePage {
    if (startingToken !== '' && !isVolumeId(startingToken)) {
      throw new AbortedError(`starting_token "${startingToken}" was not issued by this plugin`);
    }
    const after = this.state.list().filter((volume) => startingToken === '' || volume.volumeId > startingToken);
    if (maxEntries <= 0 || after.length <= maxEntries) return { volumes: after, nextToken: '' };
    const volumes = after.slice(0, maxEntries);
    return { volumes, nextToken: volumes[volumes.length - 1]!.volumeId };
  }

  /**
   * Whether the volume matches the context/parameters a caller believes it has.
   * Capabilities are checked by the edge (they are a CSI notion); NOT_FOUND here.
   */
  validate(volumeId: string, context: Readonly<Record<string, string>>, parameters: Readonly<Record<string, string>>): ValidationResult {
    const volume = this.get(volumeId);
    for (const [label, given] of [['volume_context', context], ['parameters', parameters]] as const) {
      if (Object.keys(given).length > 0 && !sameMap(given, volume.parameters)) {
        return { mismatch: `${label} differs from the parameters volume ${volumeId} was created with` };
      }
    }
    return {};
  }
}

function sameMap(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}
