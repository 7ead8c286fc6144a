import test from 'ava';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { FailedPreconditionError, InvalidArgumentError } from '../../src/core/errors.js';
import { toGrpcError } from '../../src/csi/error-mapping.js';
import { tempDir } from '../helpers/temp.js';

function errno(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: something, ${syscall} '${path}'`), { code, syscall, path, errno: -1 });
}

// Finding 12: raw Node errors reached the edge as INTERNAL with Node's own message.
const TABLE: Array<[string, status]> = [
  ['ENAMETOOLONG', status.INVALID_ARGUMENT],
  ['EINVAL', status.INVALID_ARGUMENT],
  ['ENOTDIR', status.FAILED_PRECONDITION],
  ['ENOTEMPTY', status.FAILED_PRECONDITION],
  ['EEXIST', status.FAILED_PRECONDITION],
  ['EBUSY', status.FAILED_PRECONDITION],
  ['EISDIR', status.FAILED_PRECONDITION],
  ['ENOSPC', status.RESOURCE_EXHAUSTED],
  ['EDQUOT', status.RESOURCE_EXHAUSTED],
  ['EMFILE', status.RESOURCE_EXHAUSTED],
  ['ENFILE', status.RESOURCE_EXHAUSTED],
  ['ENOMEM', status.RESOURCE_EXHAUSTED],
  ['EROFS', status.UNAVAILABLE],
  ['EACCES', status.UNAVAILABLE],
  ['EPERM', status.UNAVAILABLE],
  ['EIO', status.UNAVAILABLE],
];

for (const [code, expected] of TABLE) {
  test(`errno ${code} maps to ${status[expected]}, naming the path and the cause`, (t) => {
    const mapped = toGrpcError(errno(code, 'mkdir', '/var/lib/nixmount/volumes/x.json'));
    t.is(mapped.code, expected);
    t.true(mapped.expected);
    t.regex(mapped.message, new RegExp(`^mkdir "/var/lib/nixmount/volumes/x\\.json": .+ \\(${code}\\)$`));
  });
}

test('real errors from the file system: ENOTEMPTY from rmdir, ENOTDIR through a file', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'full'));
  await writeFile(join(dir, 'full', 'f'), '');
  const notEmpty = toGrpcError(await rmdir(join(dir, 'full')).catch((e: unknown) => e));
  t.is(notEmpty.code, status.FAILED_PRECONDITION);
  t.regex(notEmpty.message, /^rmdir ".*full": the directory is not empty \(ENOTEMPTY\)$/);
  const notDir = toGrpcError(await mkdir(join(dir, 'full', 'f', 'x')).catch((e: unknown) => e));
  t.is(notDir.code, status.FAILED_PRECONDITION);
  t.regex(notDir.message, /\(ENOTDIR\)$/);
});

test('an errno wrapped as the cause of another error is still mapped; a long path is quoted bounded', (t) => {
  const path = `/x/${'p'.repeat(5000)}`;
  const wrapped = new Error('publish failed', { cause: errno('ENOSPC', 'write', path) });
  const mapped = toGrpcError(wrapped);
  t.is(mapped.code, status.RESOURCE_EXHAUSTED);
  t.regex(mapped.message, /\(5003 bytes, 4747 not shown\): no space left on the device \(ENOSPC\)$/);
});

test('domain errors keep their kind and message; anything else is INTERNAL with one short line', (t) => {
  t.deepEqual(toGrpcError(new InvalidArgumentError('bad')), { code: status.INVALID_ARGUMENT, message: 'bad', expected: true });
  t.deepEqual(toGrpcError(new FailedPreconditionError('state')), { code: status.FAILED_PRECONDITION, message: 'state', expected: true });
  const bug = toGrpcError(new TypeError(`cannot read x\n${'stack '.repeat(100)}`));
  t.is(bug.code, status.INTERNAL);
  t.false(bug.expected);
  t.is(bug.message, 'internal error: cannot read x');
  t.is(toGrpcError(errno('EWHATEVER', 'open', '/x')).code, status.INTERNAL);
});
