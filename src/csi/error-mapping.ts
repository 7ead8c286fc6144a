import { status } from '@grpc/grpc-js';
import { isNixmountError, type ErrorKind } from '../core/errors.js';

const CODES: Record<ErrorKind, status> = {
  InvalidArgument: status.INVALID_ARGUMENT,
  NotFound: status.NOT_FOUND,
  AlreadyExists: status.ALREADY_EXISTS,
  PermissionDenied: status.PERMISSION_DENIED,
  ResourceExhausted: status.RESOURCE_EXHAUSTED,
  FailedPrecondition: status.FAILED_PRECONDITION,
  Aborted: status.ABORTED,
  Unimplemented: status.UNIMPLEMENTED,
  Internal: status.INTERNAL,
  Unavailable: status.UNAVAILABLE,
};

export interface MappedError {
  code: status;
  message: string;
  /** Whether the error was expected (a domain error) or a bug/unknown failure. */
  expected: boolean;
}

/** Domain errors keep their message; anything else becomes INTERNAL with one short line (the stack goes to logs). */
export function toGrpcError(error: unknown): MappedError {
  if (isNixmountError(error)) {
    return { code: CODES[error.kind], message: error.message, expected: error.kind !== 'Internal' };
  }
  const text = error instanceof Error ? error.message : String(error);
  const firstLine = text.split('\n')[0]?.slice(0, 200) ?? 'unknown error';
  return { code: status.INTERNAL, message: `internal error: ${firstLine}`, expected: false };
}
