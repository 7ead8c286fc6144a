import { InvalidArgumentError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { quote, utf8Length } from '../core/quote.js';

/** CSI's required fields: missing or empty is INVALID_ARGUMENT naming the field. */
export function required(value: string | undefined | null, field: string): string {
  if (value === undefined || value === null || value === '') {
    throw new InvalidArgumentError(`${field} is required`);
  }
  return value;
}

/** A required volume id (or volume name), at most LIMITS.volumeIdBytes long. */
export function requiredId(value: string | undefined | null, field: string): string {
  const id = required(value, field);
  if (utf8Length(id) > LIMITS.volumeIdBytes) {
    throw new InvalidArgumentError(`${field}: ${quote(id)} is longer than the limit of ${LIMITS.volumeIdBytes} bytes`);
  }
  return id;
}

export function requiredObject<T>(value: T | undefined | null, field: string): T {
  if (value === undefined || value === null) throw new InvalidArgumentError(`${field} is required`);
  return value;
}
