import { quoteList } from './quote.js';

/**
 * Domain errors thrown by the core. The gRPC edge maps `kind` to a status code;
 * nothing in the core knows about gRPC.
 */
export type ErrorKind =
  | 'InvalidArgument'
  | 'NotFound'
  | 'AlreadyExists'
  | 'PermissionDenied'
  | 'ResourceExhausted'
  | 'FailedPrecondition'
  | 'Aborted'
  | 'Unimplemented'
  | 'Internal'
  | 'Unavailable';

export class NixmountError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = `${kind}Error`;
  }
}

export class InvalidArgumentError extends NixmountError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('InvalidArgument', message, options);
  }
}

/**
 * A target or staging path refused because a directory on it is a symlink. Its own class:
 * an unpublish of such a path that nixmount holds nothing at is answered OK (see
 * VolumePublisher.unpublishMoved), while other malformed paths stay INVALID_ARGUMENT.
 */
export class PathThroughSymlinkError extends InvalidArgumentError {}

export class NotFoundError extends NixmountError {
  constructor(message: string) {
    super('NotFound', message);
  }
}

export class AlreadyExistsError extends NixmountError {
  constructor(message: string) {
    super('AlreadyExists', message);
  }
}

export class FailedPreconditionError extends NixmountError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FailedPrecondition', message, options);
  }
}

export class PermissionDeniedError extends NixmountError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PermissionDenied', message, options);
  }
}

export class AbortedError extends NixmountError {
  constructor(message: string) {
    super('Aborted', message);
  }
}

export class UnavailableError extends NixmountError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Unavailable', message, options);
  }
}

/** The node ran out of something a retry may find again (file descriptors, processes, memory). */
export class ResourceExhaustedError extends NixmountError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ResourceExhausted', message, options);
  }
}

export class UnimplementedError extends NixmountError {
  constructor(message: string) {
    super('Unimplemented', message);
  }
}

/** Some store paths are neither valid in the node store nor substitutable from any cache. */
export class StorePathsUnavailableError extends FailedPreconditionError {
  constructor(
    readonly paths: readonly string[],
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`store paths not available on this node or from its substituters: ${quoteList(paths)}${detail ? ` (${detail})` : ''}`, options);
  }
}

/** A derivation's builder failed; the message carries the tail of its log. */
export class BuildFailedError extends FailedPreconditionError {
  constructor(
    readonly derivation: string,
    readonly logTail: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`build of ${derivation} failed${logTail.length > 0 ? `; last lines of its log:\n${logTail.join('\n')}` : ''}`, options);
  }
}

/** An external command (nix, mount, cp) failed; the message carries the tail of its stderr. */
export class CommandFailedError extends NixmountError {
  /** Killed because it outlived its bound (a hung Nix, a lock never released). */
  readonly timedOut: boolean;

  constructor(
    readonly command: string,
    readonly exitCode: number | undefined,
    readonly stderr: string,
    options?: { cause?: unknown; timedOut?: boolean; timeoutMs?: number },
  ) {
    const bound = options?.timeoutMs !== undefined ? ` after ${Math.round(options.timeoutMs / 1000)} s and was killed` : '';
    const why = options?.timedOut ? `timed out${bound}` : `exited with ${exitCode ?? 'a signal'}`;
    super('Internal', `${command} ${why}${stderr ? `: ${lastLines(stderr, 5)}` : ''}`, options);
    this.timedOut = options?.timedOut ?? false;
  }
}

export function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join('\n');
}

export function isNixmountError(error: unknown): error is NixmountError {
  return error instanceof NixmountError;
}

/** The kind a domain error carries; anything else reaching a report is a bug (Internal). */
export function errorKind(error: unknown): ErrorKind {
  return isNixmountError(error) ? error.kind : 'Internal';
}

/** What a failed publish reports of its error (NodeEvents `publish-failed`): kind, message, and the paths or derivation it names. */
export function failureFacts(error: unknown): { reason: ErrorKind; message: string; missingPaths?: readonly string[]; failedDerivation?: string } {
  return {
    reason: errorKind(error),
    message: error instanceof Error ? error.message : String(error),
    ...(error instanceof StorePathsUnavailableError ? { missingPaths: error.paths } : {}),
    ...(error instanceof BuildFailedError ? { failedDerivation: error.derivation } : {}),
  };
}

/**
 * The node would not make a bind farm's mounts (no CAP_SYS_ADMIN, a file system that
 * refuses binds): with --view-mode auto the view is built with hardlinks instead.
 */
export class BindFarmUnavailableError extends NixmountError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Internal', message, options);
  }
}
