import { InvalidArgumentError } from '../core/errors.js';
import { quote } from '../core/quote.js';
import type { AccessMode } from '../core/volume-request.js';
import type { VolumeCapability__Output } from '../gen/csi/v1/VolumeCapability.js';
import { requiredObject } from './validation.js';

const MODES: Record<string, AccessMode> = {
  SINGLE_NODE_WRITER: 'single-node-writer',
  SINGLE_NODE_READER_ONLY: 'single-node-reader-only',
  MULTI_NODE_READER_ONLY: 'multi-node-reader-only',
  MULTI_NODE_SINGLE_WRITER: 'multi-node-single-writer',
  MULTI_NODE_MULTI_WRITER: 'multi-node-multi-writer',
  SINGLE_NODE_SINGLE_WRITER: 'single-node-single-writer',
  SINGLE_NODE_MULTI_WRITER: 'single-node-multi-writer',
};

// Flags that make sense on a Nix tree; anything else (a block fs option, "rw"…) is refused by name.
const ALLOWED_MOUNT_FLAGS = new Set(['noexec', 'noatime', 'relatime', 'nodiratime', 'strictatime', 'nosuid', 'nodev', 'ro']);

export interface MountCapability {
  accessMode: AccessMode;
  mountFlags: string[];
}

/** Reads a CSI VolumeCapability; a Nix closure is a file tree, so only mount access is possible. */
export function readCapability(capability: VolumeCapability__Output | null | undefined, field = 'volume_capability'): MountCapability {
  const value = requiredObject(capability, field);
  if (value.block) {
    throw new InvalidArgumentError(`${field}: block access is not supported; a Nix closure is mounted as a file system`);
  }
  if (!value.mount) {
    throw new InvalidArgumentError(`${field}: access_type must be mount`);
  }
  const modeName = value.access_mode?.mode ?? 'UNKNOWN';
  const accessMode = MODES[modeName];
  if (!accessMode) {
    // An enum name (or number) from the protobuf decoder, never free text: no quoting needed.
    throw new InvalidArgumentError(`${field}.access_mode: ${modeName} is not a usable access mode`);
  }
  if (value.mount.fs_type !== '') {
    throw new InvalidArgumentError(`${field}.mount.fs_type: ${quote(value.mount.fs_type)} is not supported; leave it empty`);
  }
  // Each flag once: a request repeating one a million times must not become a million-entry mount option string.
  const mountFlags = [...new Set(value.mount.mount_flags.flatMap((flag) => flag.split(',')).filter((flag) => flag !== ''))];
  for (const flag of mountFlags) {
    if (!ALLOWED_MOUNT_FLAGS.has(flag)) {
      throw new InvalidArgumentError(
        `${field}.mount.mount_flags: ${quote(flag)} is not supported (allowed: ${[...ALLOWED_MOUNT_FLAGS].join(', ')})`,
      );
    }
  }
  // ro, nosuid and nodev are applied anyway; passing them twice is harmless but noisy.
  return { accessMode, mountFlags: mountFlags.filter((flag) => !['ro', 'nosuid', 'nodev'].includes(flag)) };
}
