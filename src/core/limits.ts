/**
 * Bounds on what a request may carry (README "Limits"). Each is well above what an
 * orchestrator sends (CSI asks plugins to accept 128-byte strings and 4 KiB maps) and
 * well below what would make a request or its answer a burden.
 */
export const LIMITS = {
  /** Bytes of a volume id. */
  volumeIdBytes: 1024,
  /** Bytes of one volume-context key. */
  contextKeyBytes: 1024,
  /** Bytes of the whole volume context, keys and values. */
  contextBytes: 64 * 1024,
  /** Store paths one volume may name, counted before anything asks Nix. */
  storePaths: 1000,
  /** Bytes of a target or staging path (Linux's PATH_MAX). */
  pathBytes: 4096,
  /** Bytes of one path component (Linux's NAME_MAX). */
  nameBytes: 255,
  /** Bytes of a gRPC status message; grpc-js clients drop longer ones and stall the connection. */
  statusMessageBytes: 4096,
} as const;
