import { InvalidArgumentError } from '../core/errors.js';

/** CSI's required fields: missing or empty is INVALID_ARGUMENT naming the field. */
export function required(value: string | undefined | null, field: string): string {
  if (value === undefined || value === null || value === '') {
    throw new InvalidArgumentError(`${field} is required`);
  }
  return value;
}

export function requiredObject<T>(value: T | undefined | null, field: string): T {
  if (value === undefined || value === null) throw new InvalidArgumentError(`${field} is required`);
  return value;
}
