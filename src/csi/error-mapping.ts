import { status } from '@grpc/grpc-js';
import { isNixmountError, type ErrorKind } from '../core/errors.js';
import { quote } from '../core/quote.js';

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

/**
 * Raw errno errors from the file system, by the code a client can act on: a bad path
 * (fix the request), the node's state in the way (fix the node, then retry), resources
 * (wait or free some), storage failing (retry later). The words say what happened.
 */
const ERRNO: Record<string, { code: status; words: string }> = {
  ENAMETOOLONG: { code: status.INVALID_ARGUMENT, words: 'a path or file name is too long' },
  EINVAL: { code: status.INVALID_ARGUMENT, words: 'the path or argument is invalid' },
  ENOTDIR: { code: status.FAILED_PRECONDITION, words: 'a component of the path is not a directory' },
  ENOTEMPTY: { code: status.FAILED_PRECONDITION, words: 'the directory is not empty' },
  EEXIST: { code: status.FAILED_PRECONDITION, words: 'something else already exists there' },
  EBUSY: { code: status.FAILED_PRECONDITION, words: 'it is busy (in use or mounted on)' },
  EISDIR: { code: status.FAILED_PRECONDITION, words: 'it is a directory' },
  ENOENT: { code: status.FAILED_PRECONDITION, words: 'it or a directory above it does not exist' },
  ELOOP: { code: status.FAILED_PRECONDITION, words: 'too many symbolic links' },
  ENOSPC: { code: status.RESOURCE_EXHAUSTED, words: 'no space left on the device' },
  EDQUOT: { code: status.RESOURCE_EXHAUSTED, words: 'the disk quota is exhausted' },
  EMFILE: { code: status.RESOURCE_EXHAUSTED, words: 'the plugin has too many open files' },
  ENFILE: { code: status.RESOURCE_EXHAUSTED, words: 'the system has too many open files' },
  ENOMEM: { code: status.RESOURCE_EXHAUSTED, words: 'out of memory' },
  EROFS: { code: status.UNAVAILABLE, words: 'the file system is read-only' },
  EACCES: { code: status.UNAVAILABLE, words: 'permission denied' },
  EPERM: { code: status.UNAVAILABLE, words: 'operation not permitted' },
  EIO: { code: status.UNAVAILABLE, words: 'an I/O error from the storage' },
};

export interface MappedError {
  code: status;
  message: string;
  /** Whether the error was expected (a domain error or the node's state) or a bug/unknown failure. */
  expected: boolean;
}

interface ErrnoLike {
  code: string;
  path?: string;
  dest?: string;
  syscall?: string;
}

function errnoOf(error: unknown): ErrnoLike | undefined {
  // Up the cause chain a little: wrappers keep the errno they were caused by.
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && ERRNO[code]) return current as unknown as ErrnoLike;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Domain errors keep their kind and message. Raw errno errors map by code, naming the
 * path and the cause. Anything else is a bug: INTERNAL with one short line (the stack
 * goes to the logs).
 */
export function toGrpcError(error: unknown): MappedError {
  if (isNixmountError(error)) {
    return { code: CODES[error.kind], message: error.message, expected: error.kind !== 'Internal' };
  }
  const errno = errnoOf(error);
  if (errno) {
    const { code, words } = ERRNO[errno.code]!;
    const what = errno.syscall ? `${errno.syscall} ` : '';
    const where = errno.path !== undefined ? `${quote(errno.path)}${errno.dest !== undefined ? ` → ${quote(errno.dest)}` : ''}` : 'a path';
    return { code, message: `${what}${where}: ${words} (${errno.code})`, expected: true };
  }
  const text = error instanceof Error ? error.message : String(error);
  const firstLine = text.split('\n')[0]?.slice(0, 200) ?? 'unknown error';
  return { code: status.INTERNAL, message: `internal error: ${firstLine}`, expected: false };
}
